"""Catalog of realistic student answers, graded through nbgrader: the mistakes the tests must catch (and
name in their feedback), the correct variants they must accept, and the weaknesses they knowingly accept.

    python -m tests.catalog            grade everything, print the table (exit 1 if an entry misbehaves)
    python -m tests.catalog 04 05      only these stages
"""

from . import (
    stage01_data,
    stage02_embedding,
    stage03_keys_values,
    stage04_einsum_attention,
    stage05_module,
    stage06_training,
)

ENTRIES = [
    *stage01_data.ENTRIES,
    *stage02_embedding.ENTRIES,
    *stage03_keys_values.ENTRIES,
    *stage04_einsum_attention.ENTRIES,
    *stage05_module.ENTRIES,
    *stage06_training.ENTRIES,
]
