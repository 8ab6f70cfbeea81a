"""Catalog of 03_keys_values: keys_and_values(embedded, WK, WV) -> (keys (N, M, A), values (N, M, V))."""

from .entry import entries_of

mistake, correct, accepted = entries_of("03_keys_values")
VISIBLE, HIDDEN = "test_keys_and_values", "test_keys_and_values_hidden"
BOTH = (VISIBLE, HIDDEN)

ENTRIES = [
    mistake(
        "swapped_keys_and_values",
        "keys_and_values",
        """
        keys = WV(embedded)
        values = WK(embedded)
        return keys, values
        """,
        BOTH,
        "swapped",
    ),
    mistake(
        "returns_values_then_keys",
        "keys_and_values",
        """
        return WV(embedded), WK(embedded)
        """,
        BOTH,
        "swapped",
    ),
    mistake(
        "ignores_the_bias",
        "keys_and_values",
        """
        keys = embedded @ WK.weight.T
        values = embedded @ WV.weight.T
        return keys, values
        """,
        BOTH,
        "bias",
    ),
    mistake(
        "weight_not_transposed",
        "keys_and_values",
        """
        keys = embedded @ WK.weight + WK.bias
        values = embedded @ WV.weight + WV.bias
        return keys, values
        """,
        BOTH,
        "must be transposed",
    ),
    mistake(
        "one_layer_for_both",
        "keys_and_values",
        """
        keys = WK(embedded)
        values = WK(embedded)
        return keys, values
        """,
        BOTH,
        "values come from WV",
    ),
    mistake(
        "new_layers_inside",
        "keys_and_values",
        """
        E = embedded.shape[-1]
        keys = torch.nn.Linear(E, WK.out_features)(embedded)
        values = torch.nn.Linear(E, WV.out_features)(embedded)
        return keys, values
        """,
        BOTH,
        "use the given layers",
    ),
    mistake(
        "returns_only_the_keys",
        "keys_and_values",
        """
        keys = WK(embedded)
        values = WV(embedded)
        return keys
        """,
        BOTH,
        "pair (keys, values)",
    ),
    mistake(
        "detached_keys",
        "keys_and_values",
        """
        keys = WK(embedded).detach()
        values = WV(embedded).detach()
        return keys, values
        """,
        HIDDEN,
        "do not detach",
    ),
    correct(
        "functional_linear",
        "keys_and_values",
        """
        return F.linear(embedded, WK.weight, WK.bias), F.linear(embedded, WV.weight, WV.bias)
        """,
    ),
    correct(
        "matmul_plus_bias",
        "keys_and_values",
        """
        keys = torch.matmul(embedded, WK.weight.t()) + WK.bias
        values = torch.matmul(embedded, WV.weight.t()) + WV.bias
        return keys, values
        """,
    ),
    correct(
        "einsum_projection_as_list",
        "keys_and_values",
        """
        keys = torch.einsum("nme,ae->nma", embedded, WK.weight) + WK.bias
        values = torch.einsum("nme,ve->nmv", embedded, WV.weight) + WV.bias
        return [keys, values]
        """,
    ),
]
