"""Catalog of 04_einsum_attention: attention_weights(query, keys) -> (N, L, M), attend(weights, values) ->
(N, L, V) and attention_readout(x, embedding, query, WK, WV) -> (N, V).

The notebook's attention_readout calls the student's attention_weights and attend, so a wrong
attention_weights also loses the points of the readout's hidden test (which checks values, not shapes)."""

from .entry import entries_of

mistake, correct, accepted = entries_of("04_einsum_attention")
WEIGHTS, WEIGHTS_HIDDEN = "test_attention_weights", "test_attention_weights_hidden"
ATTEND, ATTEND_HIDDEN = "test_attend", "test_attend_hidden"
READOUT, READOUT_HIDDEN = "test_attention_readout", "test_attention_readout_hidden"
WRONG_WEIGHTS = (WEIGHTS, WEIGHTS_HIDDEN, READOUT_HIDDEN)


def weights_with(scores: str, softmax: str = "torch.softmax(scores, dim=-1)") -> str:
    """An attention_weights body with the given line for the scores and for the normalisation."""
    return f"scores = {scores}\nreturn {softmax}\n"


EINSUM = 'torch.einsum("ik,bjk->bij", query, keys)'
SCALED = f"{EINSUM} / math.sqrt(keys.shape[-1])"

ENTRIES = [
    mistake("no_scaling", "attention_weights", weights_with(EINSUM), WRONG_WEIGHTS, "not divided by sqrt(att_dim)"),
    mistake(
        "multiplies_by_sqrt_d",
        "attention_weights",
        weights_with(f"{EINSUM} * math.sqrt(keys.shape[-1])"),
        WRONG_WEIGHTS,
        "multiplied by sqrt(att_dim)",
    ),
    mistake(
        "divides_by_d",
        "attention_weights",
        weights_with(f"{EINSUM} / keys.shape[-1]"),
        WRONG_WEIGHTS,
        "divided by att_dim instead of sqrt(att_dim)",
    ),
    mistake(
        "divides_by_sequence_length",
        "attention_weights",
        weights_with(f"{EINSUM} / keys.shape[1]"),
        WRONG_WEIGHTS,
        "sequence length",
    ),
    mistake(
        "divides_by_sqrt_of_sequence_length",
        "attention_weights",
        weights_with(f"{EINSUM} / math.sqrt(keys.shape[1])"),
        WRONG_WEIGHTS,
        "sequence length",
    ),
    mistake(
        "divides_by_embed_size_hard_coded",
        "attention_weights",
        weights_with(f"{EINSUM} / math.sqrt(5)"),
        WRONG_WEIGHTS,
        "fixed number",
    ),
    mistake(
        "uses_global_att_dim",
        "attention_weights",
        weights_with(f"{EINSUM} / math.sqrt(att_dim)"),
        WRONG_WEIGHTS,
        "last axis of the keys",
    ),
    mistake(
        "softmax_over_query_axis",
        "attention_weights",
        weights_with(SCALED, "torch.softmax(scores, dim=1)"),
        WRONG_WEIGHTS,
        "over the keys",
    ),
    mistake(
        "softmax_over_batch_axis",
        "attention_weights",
        weights_with(SCALED, "torch.softmax(scores, dim=0)"),
        WRONG_WEIGHTS,
        "over the keys",
    ),
    mistake(
        "softmax_without_dim", "attention_weights", weights_with(SCALED, "F.softmax(scores)"), WRONG_WEIGHTS, "dim=-1"
    ),
    mistake(
        "sigmoid_instead_of_softmax",
        "attention_weights",
        weights_with(SCALED, "torch.sigmoid(scores)"),
        WRONG_WEIGHTS,
        "sigmoid",
    ),
    mistake(
        "log_softmax",
        "attention_weights",
        weights_with(SCALED, "torch.log_softmax(scores, dim=-1)"),
        WRONG_WEIGHTS,
        "log_softmax",
    ),
    mistake("no_softmax", "attention_weights", weights_with(SCALED, "scores"), WRONG_WEIGHTS, "softmax"),
    mistake(
        "transposed_einsum_subscripts",
        "attention_weights",
        weights_with('torch.einsum("ik,bjk->bji", query, keys) / math.sqrt(keys.shape[-1])'),
        WRONG_WEIGHTS,
        "'ik,bjk->bij'",
    ),
    mistake(
        "einsum_operands_swapped",
        "attention_weights",
        weights_with('torch.einsum("ik,bjk->bij", keys, query) / math.sqrt(keys.shape[-1])'),
        (*WRONG_WEIGHTS, READOUT),
        "order of the arguments",
    ),
    mistake(
        "hard_coded_single_query",
        "attention_weights",
        """
        scores = (keys @ query[0]) / math.sqrt(keys.shape[-1])   # (N, M): only the first query
        return torch.softmax(scores, dim=-1).unsqueeze(1)
        """,
        (WEIGHTS, WEIGHTS_HIDDEN),
        "every query",
    ),
    mistake(
        "query_rebuilt_with_torch_tensor",
        "attention_weights",
        """
        q = torch.tensor(query)
        scores = torch.einsum("ik,bjk->bij", q, keys) / math.sqrt(keys.shape[-1])
        return torch.softmax(scores, dim=-1)
        """,
        WEIGHTS_HIDDEN,
        "no gradient reaches the query",
    ),
    mistake(
        "attend_transposed_subscripts",
        "attend",
        'return torch.einsum("bij,bjk->bki", weights, values)',
        (ATTEND, ATTEND_HIDDEN, READOUT_HIDDEN),
        "(N, L, V)",
    ),
    mistake(
        "attend_mean_instead_of_sum",
        "attend",
        """
        return (weights.unsqueeze(-1) * values.unsqueeze(1)).mean(dim=2)
        """,
        (ATTEND, ATTEND_HIDDEN, READOUT_HIDDEN),
        "mean",
    ),
    mistake(
        "attend_operands_swapped",
        "attend",
        "return values @ weights",
        (ATTEND, ATTEND_HIDDEN, READOUT, READOUT_HIDDEN),
        "weights (N, L, M) come first",
    ),
    mistake(
        "attend_without_sum",
        "attend",
        "return weights.unsqueeze(-1) * values.unsqueeze(1)",
        (ATTEND, ATTEND_HIDDEN, READOUT, READOUT_HIDDEN),
        "sum over the key axis",
    ),
    mistake(
        "attend_first_query_only",
        "attend",
        """
        return torch.einsum("bj,bjk->bk", weights[:, 0, :], values).unsqueeze(1)
        """,
        (ATTEND, ATTEND_HIDDEN),
        "every query",
    ),
    mistake(
        "readout_squeezes",
        "attention_readout",
        """
        keys, values = keys_and_values(embedding(x), WK, WV)
        return attend(attention_weights(query, keys), values).squeeze()
        """,
        (READOUT, READOUT_HIDDEN),
        ".squeeze()",
    ),
    mistake(
        "readout_squeeze_then_unsqueeze",
        "attention_readout",
        """
        keys, values = keys_and_values(embedding(x), WK, WV)
        return attend(attention_weights(query, keys), values).squeeze()[:, None]
        """,
        (READOUT, READOUT_HIDDEN),
        "drops the batch axis when N = 1",
    ),
    mistake(
        "readout_swaps_keys_and_values",
        "attention_readout",
        """
        values, keys = keys_and_values(embedding(x), WK, WV)
        return attend(attention_weights(query, keys), values)[:, 0, :]
        """,
        (READOUT, READOUT_HIDDEN),
        "swapped",
    ),
    mistake(
        "readout_skips_embedding",
        "attention_readout",
        """
        keys, values = keys_and_values(x, WK, WV)
        return attend(attention_weights(query, keys), values)[:, 0, :]
        """,
        (READOUT, READOUT_HIDDEN),
        "embed the digits first",
    ),
    mistake(
        "readout_selects_value_axis",
        "attention_readout",
        """
        keys, values = keys_and_values(embedding(x), WK, WV)
        return attend(attention_weights(query, keys), values)[:, :, 0]
        """,
        READOUT_HIDDEN,
        "query axis",
    ),
    mistake(
        "readout_ignores_attention",
        "attention_readout",
        """
        keys, values = keys_and_values(embedding(x), WK, WV)
        return values.mean(dim=1)
        """,
        READOUT_HIDDEN,
        "attention-weighted",
    ),
    correct(
        "matmul_broadcast",
        "attention_weights",
        """
        scores = query @ keys.transpose(1, 2) / math.sqrt(keys.shape[-1])   # (Q, A) @ (N, A, M)
        return scores.softmax(dim=-1)
        """,
    ),
    correct(
        "bmm_and_pow",
        "attention_weights",
        """
        N, M, A = keys.shape
        scores = torch.bmm(query.expand(N, -1, -1), keys.transpose(1, 2)) / A ** 0.5
        return F.softmax(scores, dim=2)
        """,
    ),
    correct(
        "manual_softmax_max_subtraction",
        "attention_weights",
        """
        scores = torch.einsum("ik,bjk->bij", query, keys) * keys.size(-1) ** -0.5
        exps = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
        return exps / exps.sum(dim=-1, keepdim=True)
        """,
    ),
    correct(
        "weights_emit_a_warning",
        "attention_weights",
        """
        warnings.warn("attention_weights: einsum on CPU")
        d = torch.tensor(keys.shape[-1], dtype=torch.float32)
        return torch.softmax(torch.einsum("qa,nma->nqm", query, keys) / torch.sqrt(d), -1)
        """,
    ),
    accepted(
        "softmax_without_max_subtraction",
        "attention_weights",
        """
        exps = torch.exp(torch.einsum("ik,bjk->bij", query, keys) / math.sqrt(keys.shape[-1]))
        return exps / exps.sum(dim=-1, keepdim=True)
        """,
        "exp overflows only for scores above about 88; the scores of this course are of order 1 to 10. A test "
        "with huge keys would reject it, but it would grade numerical stability, which the course does not teach",
    ),
    correct("attend_bmm", "attend", "return torch.bmm(weights, values)"),
    correct("attend_broadcast_sum", "attend", "return (weights[..., None] * values[:, None, :, :]).sum(dim=2)"),
    correct(
        "readout_squeeze_query_axis",
        "attention_readout",
        """
        emb = embedding(x)
        keys, values = keys_and_values(emb, WK, WV)
        weights = attention_weights(query, keys)
        return attend(weights, values).squeeze(1)
        """,
    ),
    correct(
        "readout_reshape",
        "attention_readout",
        """
        keys, values = keys_and_values(embedding(x), WK, WV)
        out = torch.einsum("bij,bjk->bik", attention_weights(query, keys), values)
        return out.reshape(x.shape[0], -1)
        """,
    ),
]
