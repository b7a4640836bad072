"""hybridize.frontends: capture models from eager frameworks into `hy` IR.

- `frontends/torch.py`: `torch.export` programs (PyTorch).

Frameworks are imported lazily, inside the functions that need them.
"""
