"""Catalog of 01_data: make_batch(N) -> X int64 (N, 10), y float32 (N, 1)."""

from .entry import entries_of

mistake, correct, accepted = entries_of("01_data")
VISIBLE, HIDDEN = "test_make_batch", "test_make_batch_hidden"
BOTH = (VISIBLE, HIDDEN)

ENTRIES = [
    mistake(
        "randint_upper_bound_9",
        "make_batch",
        """
        X = torch.randint(0, 9, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "upper bound is exclusive",
    ),
    mistake(
        "digits_1_to_10",
        "make_batch",
        """
        X = torch.randint(1, 11, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "digits 0..9",
    ),
    mistake(
        "compares_wrong_digit",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 3).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "compare the count of 2s with the count of 4s",
    ),
    mistake(
        "counts_fours_against_twos",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 4).sum(dim=1) > (X == 2).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "more 4s than 2s",
    ),
    mistake(
        "ties_counted_as_more",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) >= (X == 4).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "strictly more",
    ),
    mistake(
        "labels_integer",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).long().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "float32",
    ),
    mistake(
        "labels_bool",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).unsqueeze(1)
        return X, y
        """,
        BOTH,
        "float32",
    ),
    mistake(
        "labels_shape_N",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float()
        return X, y
        """,
        BOTH,
        ".unsqueeze(1)",
    ),
    mistake(
        "labels_float64_from_numpy",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        counts = X.numpy()
        y = torch.from_numpy(((counts == 2).sum(1) > (counts == 4).sum(1)).astype(float)[:, None])
        return X, y
        """,
        BOTH,
        "float32",
    ),
    mistake(
        "counts_over_the_batch_axis",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=0) > (X == 4).sum(dim=0)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "dim=1",
    ),
    mistake(
        "float_digits_from_rand",
        "make_batch",
        """
        X = torch.floor(torch.rand(N, 10) * 10)
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "torch.int64",
    ),
    mistake(
        "sequences_transposed",
        "make_batch",
        """
        X = torch.randint(0, 10, (10, N))
        y = ((X == 2).sum(dim=0) > (X == 4).sum(dim=0)).float().unsqueeze(1)
        return X, y
        """,
        BOTH,
        "(N, 10)",
    ),
    mistake(
        "returns_y_then_X",
        "make_batch",
        """
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float().unsqueeze(1)
        return y, X
        """,
        BOTH,
        "(X, y)",
    ),
    mistake(
        "seed_reset_inside",
        "make_batch",
        """
        torch.manual_seed(0)
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float().unsqueeze(1)
        return X, y
        """,
        HIDDEN,
        "same batch",
    ),
    mistake(
        "numpy_arrays_returned",
        "make_batch",
        """
        X = np.random.randint(0, 10, size=(N, 10))
        y = ((X == 2).sum(axis=1) > (X == 4).sum(axis=1)).astype(np.float32)[:, None]
        return X, y
        """,
        BOTH,
        "torch tensors",
    ),
    correct(
        "numpy_built_batch",
        "make_batch",
        """
        digits = np.random.randint(0, 10, size=(N, 10))
        labels = (digits == 2).sum(axis=1) > (digits == 4).sum(axis=1)
        X = torch.from_numpy(digits).long()
        y = torch.tensor(labels, dtype=torch.float32).reshape(N, 1)
        return X, y
        """,
    ),
    correct(
        "rand_scaled_to_long",
        "make_batch",
        """
        X = (torch.rand(N, 10) * 10).long()
        y = ((X == 2).sum(1, keepdim=True) > (X == 4).sum(1, keepdim=True)).to(torch.float32)
        return X, y
        """,
    ),
    correct(
        "python_loop_labels",
        "make_batch",
        """
        X = torch.randint(10, size=(N, 10))
        labels = []
        for row in X.tolist():
            labels.append([1.0 if row.count(2) > row.count(4) else 0.0])
        return X, torch.tensor(labels)
        """,
    ),
    correct(
        "where_and_view",
        "make_batch",
        """
        X = torch.randint(low=0, high=10, size=[N, 10], dtype=torch.long)
        diff = (X == 2).int().sum(-1) - (X == 4).int().sum(-1)
        y = torch.where(diff > 0, 1.0, 0.0).view(-1, 1)
        return X, y
        """,
    ),
    correct(
        "emits_a_warning",
        "make_batch",
        """
        warnings.warn("make_batch: this is a slow version")
        X = torch.randint(0, 10, (N, 10))
        y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float()[:, None]
        return X, y
        """,
    ),
]
