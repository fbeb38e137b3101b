"""Entry-function signature of the EPLB problem (shown to the code generator as the function-signature prompt)."""
import torch


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Plan which expert every physical slot of every MoE layer holds.

    Each layer is an independent problem: choose how many replicas every
    logical expert gets (at least one, ``num_replicas`` in total) and which slot
    each replica occupies. Slot ``r`` lives on GPU ``r // (num_replicas // num_gpus)``
    and GPU ``g`` on node ``g // (num_gpus // num_nodes)``. An expert's tokens
    are split evenly over its replicas, so a GPU's load is the sum over its
    slots of ``weight[l, e] / logcnt[l, e]``. The plan is scored on the *next*
    window's loads: the busiest GPU of each layer should be as close to the
    layer's mean GPU load as possible.

    When ``num_groups % num_nodes == 0`` (hierarchical shape), all replicas of
    the experts of one group (experts ``g * E // num_groups`` to
    ``(g + 1) * E // num_groups - 1``) must sit on a single node. Otherwise the
    shape is global and any placement is allowed.

    Args:
        weight: ``[L, E]`` load of every logical expert in every MoE layer over
            the observed window (token counts, float or int; not necessarily on
            the CPU). Read-only: do not modify it in place.
        num_replicas: ``R``, physical expert slots per layer; ``R >= E`` and
            ``R % num_gpus == 0``.
        num_groups: number of expert groups; ``E % num_groups == 0``.
        num_nodes: number of server nodes; ``num_gpus % num_nodes == 0``.
        num_gpus: number of GPUs (expert-parallel ranks).

    Returns:
        ``(phy2log, log2phy, logcnt)``, all ``torch.int64`` on the CPU:

        * ``phy2log [L, R]``: logical expert held by each physical slot, in ``[0, E)``;
        * ``log2phy [L, E, X]``: the slots of each expert, padded with ``-1``,
          where ``X`` is at least ``logcnt.max()``;
        * ``logcnt [L, E]``: number of replicas of each expert, ``>= 1``,
          equal to the number of times the expert appears in ``phy2log``,
          summing to ``R`` in every layer.
    """
    raise NotImplementedError
