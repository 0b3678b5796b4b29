"""Pruning methods, one module per paper; ``python -m pruning <method>`` runs their experiments.

=====================================  ===========================  ==================================================
method                                 module                       citation
=====================================  ===========================  ==================================================
Optimal Brain Damage                   ``pruning.obd``              LeCun, Denker & Solla, NIPS 2 (1989)
Lottery ticket (iterative magnitude    ``pruning.lottery``          Frankle & Carbin, ICLR 2019
pruning with resetting)
Weight Agnostic Neural Networks        ``pruning.wann``,            Gaier & Ha, NeurIPS 2019
                                       ``pruning.wann_tasks``
Dynamic Sparse Reparameterization,     ``pruning.dsr``              Mostafa & Wang, ICML 2019
with static, SET and GMP baselines                                  (SET: Mocanu et al., Nat. Commun. 2018;
                                                                    GMP: Zhu & Gupta, arXiv:1710.01878)
RigL (a DSR baseline)                  ``pruning.rigl``             Evci et al., ICML 2020
Gradual pruning schedule (GMP's)       ``pruning.schedules``        Zhu & Gupta, arXiv:1710.01878, Eq. 1
=====================================  ===========================  ==================================================

Shared by the methods (no paper of their own): ``pruning.masks`` (pruning
primitives over a model's weight layers: magnitude, random, global or per
layer, apply/set/remove masks), ``pruning.sparse_layers`` (``DynamicLinear``
and ``DynamicConv2d``, sparse layers for DSR, SET and RigL) and
``pruning.torch_like`` (the interface of ``torch.nn.utils.prune`` on nnlite
models).
"""
