"""Catalog of 06_training: the loop body of train(...) and accuracy(model, N).

The code of a `train` entry is the body of `for i in range(steps):` (model, opt, losses and the arguments
are in scope). Its visible test runs a short train() under a spy that watches optimisers, batches, losses
and gradients, so that each loop mistake is named there; the hidden test checks the trained model."""

from .entry import entries_of

mistake, correct, accepted = entries_of("06_training")
TRAIN, TRAIN_HIDDEN = "test_train", "test_train_hidden"
ACCURACY, ACCURACY_HIDDEN = "test_accuracy", "test_accuracy_hidden"
ACCURACY_BOTH = (ACCURACY, ACCURACY_HIDDEN)

ENTRIES = [
    mistake(
        "train_without_zero_grad",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        (TRAIN, TRAIN_HIDDEN),
        "call opt.zero_grad() once per step",
    ),
    mistake(
        "zero_grad_between_backward_and_step",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        loss.backward()
        opt.zero_grad()
        opt.step()
        losses.append(loss.item())
        """,
        (TRAIN, TRAIN_HIDDEN),
        "not between them",
    ),
    mistake(
        "train_without_step",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        losses.append(loss.item())
        """,
        (TRAIN, TRAIN_HIDDEN),
        "opt.step()",
    ),
    mistake(
        "losses_kept_as_tensors",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
        """,
        (TRAIN, TRAIN_HIDDEN),
        "Python floats",
    ),
    mistake(
        "mse_instead_of_bce",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        TRAIN,
        "mean squared error",
    ),
    mistake(
        "bce_arguments_swapped",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(y, model(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        (TRAIN, TRAIN_HIDDEN),
        "predictions first",
    ),
    mistake(
        "labels_of_another_batch",
        "train",
        """
        x, _ = make_batch(batch_size)
        _, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        (TRAIN, TRAIN_HIDDEN),
        "labels of the same batch",
    ),
    mistake(
        "batch_size_hard_coded",
        "train",
        """
        x, y = make_batch(100)
        loss = F.binary_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        (TRAIN, TRAIN_HIDDEN),
        "make_batch(batch_size)",
    ),
    mistake(
        "one_batch_for_all_steps",
        "train",
        """
        if i == 0:
            x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        TRAIN,
        "same batch",
    ),
    mistake(
        "new_optimizer_every_step",
        "train",
        """
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        x, y = make_batch(batch_size)
        loss = F.binary_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        """,
        TRAIN,
        "do not create a new one",
    ),
    mistake(
        "accuracy_returns_a_tensor",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return ((model(x) > 0.5).float() == y).float().mean()
        """,
        ACCURACY_BOTH,
        "Python float",
    ),
    mistake(
        "accuracy_labels_broadcast",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            predictions = (model(x) > 0.5).float()
        return (predictions == y.squeeze()).float().mean().item()
        """,
        ACCURACY_BOTH,
        "broadcasts",
    ),
    mistake(
        "accuracy_without_threshold",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return (model(x) == y).float().mean().item()
        """,
        ACCURACY_BOTH,
        "threshold",
    ),
    mistake(
        "accuracy_inverted_threshold",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return ((model(x) < 0.5).float() == y).float().mean().item()
        """,
        ACCURACY_BOTH,
        "inverted",
    ),
    mistake(
        "accuracy_sum_instead_of_mean",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return ((model(x) > 0.5).float() == y).float().sum().item()
        """,
        ACCURACY_BOTH,
        "not their sum",
    ),
    mistake(
        "accuracy_in_percent",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return 100 * ((model(x) > 0.5).float() == y).float().mean().item()
        """,
        ACCURACY_BOTH,
        "percentage",
    ),
    mistake(
        "accuracy_ignores_N",
        "accuracy",
        """
        x, y = make_batch(10000)
        with torch.no_grad():
            return ((model(x) > 0.5).float() == y).float().mean().item()
        """,
        ACCURACY_BOTH,
        "draw N fresh sequences",
    ),
    mistake(
        "accuracy_labels_of_another_batch",
        "accuracy",
        """
        x, _ = make_batch(N)
        _, y = make_batch(N)
        with torch.no_grad():
            return ((model(x) > 0.5).float() == y).float().mean().item()
        """,
        ACCURACY_BOTH,
        "same batch",
    ),
    correct(
        "zero_grad_first",
        "train",
        """
        opt.zero_grad()
        x, y = make_batch(batch_size)
        p = model(x)
        loss = F.binary_cross_entropy(p, y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        """,
    ),
    correct(
        "model_zero_grad_and_bce_module",
        "train",
        """
        x, y = make_batch(batch_size)
        loss = torch.nn.BCELoss()(model(x), y)
        model.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        """,
    ),
    correct(
        "manual_bce_and_float_warning",
        "train",
        """
        x, y = make_batch(batch_size)
        p = model(x).clamp(1e-7, 1 - 1e-7)
        loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        opt.zero_grad(set_to_none=False)
        torch.autograd.backward(loss)
        opt.step()
        losses.append(float(loss))      # float() of a tensor that requires grad warns
        """,
    ),
    correct(
        "accuracy_round",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return (model(x).round() == y).float().mean().item()
        """,
    ),
    correct(
        "accuracy_numpy",
        "accuracy",
        """
        x, y = make_batch(N)
        p = model(x).detach().numpy()
        return float(np.mean((p > 0.5) == y.numpy().astype(bool)))
        """,
    ),
    correct(
        "accuracy_in_chunks",
        "accuracy",
        """
        right = 0
        for start in range(0, N, 1000):
            x, y = make_batch(min(1000, N - start))
            with torch.no_grad():
                right += ((model(x) > 0.5) == (y > 0.5)).sum().item()
        return right / N
        """,
    ),
    accepted(
        "accuracy_without_no_grad",
        "accuracy",
        """
        x, y = make_batch(N)
        predictions = (model(x) > 0.5).float()
        return (predictions == y).float().mean().item()
        """,
        "torch.no_grad() only saves memory and time: the share it returns is identical, so the result cannot "
        "show it; the hint asks for it, but no points depend on it",
    ),
    accepted(
        "accuracy_threshold_at_or_above",
        "accuracy",
        """
        x, y = make_batch(N)
        with torch.no_grad():
            return ((model(x) >= 0.5).float() == y).float().mean().item()
        """,
        ">= 0.5 and > 0.5 differ only for a probability of exactly 0.5, which a sigmoid output practically "
        "never is: no test can tell them apart, and neither is wrong in spirit",
    ),
]
