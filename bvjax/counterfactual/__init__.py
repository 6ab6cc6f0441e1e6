"""bvjax.counterfactual: IPS and clipped estimators for MNAR implicit feedback, and ranking metrics."""

from bvjax.counterfactual._implicit import (
    ideal_pointwise_loss,
    ips_pointwise_loss,
    item_propensity,
    naive_pointwise_loss,
)
from bvjax.counterfactual._ranking import dcg_at_k, map_at_k, recall_at_k, snips_dcg_at_k

__all__ = [
    "dcg_at_k",
    "ideal_pointwise_loss",
    "ips_pointwise_loss",
    "item_propensity",
    "map_at_k",
    "naive_pointwise_loss",
    "recall_at_k",
    "snips_dcg_at_k",
]
