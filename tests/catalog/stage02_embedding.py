"""Catalog of 02_embedding: the nn.Embedding demo and one_hot_embed(x, linear) -> (N, M, E)."""

from .entry import entries_of

mistake, correct, accepted = entries_of("02_embedding")
DEMO = "test_embedding_demo"
VISIBLE, HIDDEN = "test_one_hot_embed", "test_one_hot_embed_hidden"
BOTH = (VISIBLE, HIDDEN)

ENTRIES = [
    mistake(
        "embedding_table_too_small",
        "embedding_demo",
        """
        embedding = torch.nn.Embedding(embed_dim, 10)
        x_demo = torch.randint(0, 10, (N, M))
        embedded_demo = embedding(x_demo)
        """,
        DEMO,
        "10 rows",
    ),
    mistake(
        "demo_input_transposed",
        "embedding_demo",
        """
        embedding = torch.nn.Embedding(10, embed_dim)
        x_demo = torch.randint(0, 10, (M, N))
        embedded_demo = embedding(x_demo)
        """,
        DEMO,
        "shape (N, M)",
    ),
    mistake(
        "demo_float_input",
        "embedding_demo",
        """
        embedding = torch.nn.Embedding(10, embed_dim)
        x_demo = torch.rand(N, M) * 10
        embedded_demo = embedding(x_demo.long())
        """,
        DEMO,
        "int64",
    ),
    accepted(
        "demo_draws_digits_0_to_8",
        "embedding_demo",
        """
        embedding = torch.nn.Embedding(10, embed_dim)
        x_demo = torch.randint(0, 9, (N, M))
        embedded_demo = embedding(x_demo)
        """,
        "the demo draws only N * M = 40 digits: a correct draw misses the 9 with probability 0.9**40 = 1.5%, so "
        "its test cannot demand a 9; make_batch's tests (stage 1) catch randint's exclusive bound",
    ),
    mistake(
        "one_hot_without_num_classes",
        "one_hot_embed",
        """
        return linear(F.one_hot(x).float())
        """,
        BOTH,
        "num_classes=10",
    ),
    mistake(
        "one_hot_not_float",
        "one_hot_embed",
        """
        return linear(F.one_hot(x, num_classes=10))
        """,
        BOTH,
        ".float()",
    ),
    mistake(
        "one_hot_ignores_the_bias",
        "one_hot_embed",
        """
        return F.one_hot(x, num_classes=10).float() @ linear.weight.T
        """,
        BOTH,
        "bias",
    ),
    mistake(
        "one_hot_weight_not_transposed",
        "one_hot_embed",
        """
        return F.one_hot(x, num_classes=10).float() @ linear.weight + linear.bias
        """,
        BOTH,
        "maps its last axis from 10 to E",
    ),
    mistake(
        "skips_the_linear_layer",
        "one_hot_embed",
        """
        return F.one_hot(x, num_classes=10).float()
        """,
        BOTH,
        "apply the linear layer",
    ),
    mistake(
        "new_layer_instead_of_linear",
        "one_hot_embed",
        """
        layer = torch.nn.Linear(10, linear.out_features)
        return layer(F.one_hot(x, num_classes=10).float())
        """,
        BOTH,
        "use the given layer",
    ),
    mistake(
        "detached_output",
        "one_hot_embed",
        """
        with torch.no_grad():
            return linear(F.one_hot(x, num_classes=10).float())
        """,
        HIDDEN,
        "no gradient reaches linear.weight",
    ),
    correct(
        "eye_indexing",
        "one_hot_embed",
        """
        return linear(torch.eye(10)[x])
        """,
    ),
    correct(
        "scatter_one_hot",
        "one_hot_embed",
        """
        one_hot = torch.zeros(*x.shape, 10).scatter_(-1, x.unsqueeze(-1), 1.0)
        return linear(one_hot)
        """,
    ),
    correct(
        "table_lookup_of_weight_columns",
        "one_hot_embed",
        """
        return linear.weight.T[x] + linear.bias
        """,
    ),
    correct(
        "functional_linear_einsum",
        "one_hot_embed",
        """
        one_hot = F.one_hot(x, 10).to(linear.weight.dtype)
        return torch.einsum("nmc,ec->nme", one_hot, linear.weight) + linear.bias
        """,
    ),
]
