"""bvjax.counterfactual: IPS and clipped estimators for MNAR implicit feedback, ranking metrics,
and losses for learning from aggregate responses."""

from bvjax.counterfactual._aggregate import (
    aggregate_interpolated_loss,
    aggregate_linear_regression,
    bag_level_loss,
    bag_means,
    instance_level_loss,
    laplace_bag_means,
)
from bvjax.counterfactual._implicit import (
    ideal_pointwise_loss,
    ips_pointwise_loss,
    item_propensity,
    naive_pointwise_loss,
)
from bvjax.counterfactual._ranking import dcg_at_k, map_at_k, recall_at_k, snips_dcg_at_k

__all__ = [
    "aggregate_interpolated_loss",
    "aggregate_linear_regression",
    "bag_level_loss",
    "bag_means",
    "dcg_at_k",
    "ideal_pointwise_loss",
    "instance_level_loss",
    "ips_pointwise_loss",
    "item_propensity",
    "laplace_bag_means",
    "map_at_k",
    "naive_pointwise_loss",
    "recall_at_k",
    "snips_dcg_at_k",
]
