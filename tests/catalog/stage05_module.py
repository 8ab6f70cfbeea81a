"""Catalog of 05_module: AttentionModel.attention (N, 1, M), .values (N, M, 1) and .forward (N, 1).

The code of an entry is a dict {method: body}; the methods it does not name keep the reference answer."""

from .entry import entries_of

mistake, correct, accepted = entries_of("05_module")
SHAPES, HIDDEN = "test_model_shapes", "test_model_hidden"
BOTH = (SHAPES, HIDDEN)
CELL = "AttentionModel"

SCORES = 'torch.einsum("ik,bjk->bij", self.query, self.WK(emb))'


def attention_with(scores: str, softmax: str = "torch.softmax(scores, dim=-1)") -> dict:
    return {"attention": f"scores = {scores}\nreturn {softmax}\n"}


ENTRIES = [
    mistake("model_no_scaling", CELL, attention_with(SCORES), BOTH, "not divided by sqrt(att_dim)"),
    mistake(
        "model_divides_by_sqrt_embed_dim",
        CELL,
        attention_with(f"{SCORES} / math.sqrt(self.embed_dim)"),
        BOTH,
        "sqrt(embed_dim)",
    ),
    mistake(
        "model_divides_by_att_dim",
        CELL,
        attention_with(f"{SCORES} / self.att_dim"),
        BOTH,
        "divided by att_dim instead of sqrt(att_dim)",
    ),
    mistake(
        "model_divides_by_sequence_length", CELL, attention_with(f"{SCORES} / emb.shape[1]"), BOTH, "sequence length"
    ),
    mistake("model_hard_coded_sqrt_5", CELL, attention_with(f"{SCORES} / math.sqrt(5)"), BOTH, "self.att_dim"),
    mistake(
        "model_multiplies_by_sqrt_d",
        CELL,
        attention_with(f"{SCORES} * math.sqrt(self.att_dim)"),
        BOTH,
        "multiplied by sqrt(att_dim)",
    ),
    mistake(
        "model_sigmoid_instead_of_softmax",
        CELL,
        attention_with(f"{SCORES} / math.sqrt(self.att_dim)", "torch.sigmoid(scores)"),
        BOTH,
        "sigmoid",
    ),
    mistake(
        "model_softmax_over_query_axis",
        CELL,
        attention_with(f"{SCORES} / math.sqrt(self.att_dim)", "torch.softmax(scores, dim=1)"),
        BOTH,
        "over the keys",
    ),
    mistake(
        "model_new_random_query",
        CELL,
        {
            "attention": """
        query = torch.randn(1, self.att_dim)
        scores = torch.einsum("ik,bjk->bij", query, self.WK(emb)) / math.sqrt(self.att_dim)
        return torch.softmax(scores, dim=-1)
        """
        },
        BOTH,
        "self.query",
    ),
    mistake(
        "model_swaps_keys_and_values",
        CELL,
        {
            "attention": """
            keys = self.WV(emb)
            scores = torch.einsum("ik,bjk->bij", self.query, keys) / math.sqrt(self.att_dim)
            return torch.softmax(scores, dim=-1)
            """,
            "values": "return self.WK(emb)",
        },
        BOTH,
        "swapped",
    ),
    mistake(
        "values_returns_weighted_sum",
        CELL,
        {
            "values": """
        return torch.einsum("bij,bjk->bik", self.attention(emb), self.WV(emb))
        """
        },
        BOTH,
        "not the weighted sum",
    ),
    mistake("values_without_bias", CELL, {"values": "return emb @ self.WV.weight.T"}, BOTH, "bias"),
    mistake(
        "forward_skips_the_mlp",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        attended = torch.einsum("bij,bjk->bik", self.attention(emb), self.values(emb))
        return attended[:, 0, :]
        """
        },
        BOTH,
        "self.nn",
    ),
    mistake(
        "forward_squeezes_the_output",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        attended = torch.einsum("bij,bjk->bik", self.attention(emb), self.values(emb))
        return self.nn(attended[:, 0, :]).squeeze()
        """
        },
        BOTH,
        "do not squeeze",
    ),
    mistake(
        "forward_squeezes_into_the_mlp",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        attended = torch.einsum("bij,bjk->bik", self.attention(emb), self.values(emb))
        return self.nn(attended.squeeze())
        """
        },
        BOTH,
        "needs the weighted values as (N, 1)",
    ),
    mistake(
        "forward_sigmoid_twice",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        attended = torch.einsum("bij,bjk->bik", self.attention(emb), self.values(emb))
        return torch.sigmoid(self.nn(attended[:, 0, :]))
        """
        },
        BOTH,
        "sigmoid",
    ),
    mistake(
        "forward_ignores_the_attention",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        return self.nn(self.values(emb).mean(dim=1))
        """
        },
        BOTH,
        "ignores the attention",
    ),
    mistake(
        "forward_detaches",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        attended = torch.einsum("bij,bjk->bik", self.attention(emb), self.values(emb)).detach()
        return self.nn(attended[:, 0, :])
        """
        },
        HIDDEN,
        "no gradient reaches",
    ),
    correct(
        "model_matmul_and_pow",
        CELL,
        {
            "attention": """
            keys = self.WK(emb)                                       # (N, M, A)
            scores = (keys @ self.query.T).transpose(1, 2)            # (N, 1, M)
            return torch.softmax(scores / self.att_dim ** 0.5, dim=-1)
            """,
            "forward": """
            emb = self.embed(x)
            attended = torch.bmm(self.attention(emb), self.values(emb))   # (N, 1, 1)
            return self.nn(attended.squeeze(1))
            """,
        },
    ),
    correct(
        "model_manual_softmax_max_subtraction",
        CELL,
        {
            "attention": """
        scores = torch.einsum("qa,nma->nqm", self.query, self.WK(emb)) / math.sqrt(emb.new_tensor(self.att_dim).item())
        scores = scores - scores.amax(dim=-1, keepdim=True)
        return scores.exp() / scores.exp().sum(dim=-1, keepdim=True)
        """
        },
    ),
    correct(
        "model_scaled_dot_product_attention",
        CELL,
        {
            "forward": """
        emb = self.embed(x)
        query = self.query.expand(x.shape[0], 1, self.att_dim)          # (N, 1, A)
        attended = F.scaled_dot_product_attention(query, self.WK(emb), self.values(emb))
        return self.nn(attended[:, 0, :])
        """
        },
    ),
    correct(
        "model_broadcast_sum_and_warning",
        CELL,
        {
            "forward": """
        warnings.warn("forward: slow broadcast version")
        emb = self.embed(x)
        weights = self.attention(emb)                                   # (N, 1, M)
        attended = (weights.transpose(1, 2) * self.values(emb)).sum(dim=1)  # (N, 1)
        return self.nn(attended)
        """
        },
    ),
]
