"""Real PyTorch models for tests and benchmarks (`make bench`): the d2l MLP, a small CNN, and
transformers classes built from small configs with random weights (nothing is
downloaded). Each entry: name -> () -> (model in eval mode, example inputs)."""

from __future__ import annotations

from collections.abc import Callable


def d2l_mlp():
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 2))
    return net.eval(), (torch.randn(1, 512),)


def small_cnn():
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics so BN matters
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval(), (torch.randn(1, 3, 32, 32),)


def _randomize_norms(model):
    """transformers initialise norms to identity; random stats exercise them."""
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def bert():
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64,
    )
    return BertModel(cfg).eval(), (torch.randint(0, 100, (1, 16)),)


def vit():
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(
        image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64,
    )
    return ViTModel(cfg).eval(), (torch.randn(1, 3, 32, 32),)


def resnet():
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    cfg = ResNetConfig(num_channels=3, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic")
    return _randomize_norms(ResNetModel(cfg)).eval(), (torch.randn(1, 3, 32, 32),)


def mobilenet_v2():
    import torch
    from transformers import MobileNetV2Config, MobileNetV2Model

    torch.manual_seed(0)
    cfg = MobileNetV2Config(num_channels=3, image_size=32, depth_multiplier=0.35)
    return _randomize_norms(MobileNetV2Model(cfg)).eval(), (torch.randn(1, 3, 32, 32),)


MODELS: dict[str, Callable] = {
    "d2l-mlp": d2l_mlp,
    "small-cnn": small_cnn,
    "BertModel": bert,
    "ViTModel": vit,
    "ResNetModel": resnet,
    "MobileNetV2Model": mobilenet_v2,
}


def reference_outputs(model, args) -> list:
    """The model's outputs as a flat list of tensors (ModelOutput values in order)."""
    import torch

    with torch.no_grad():
        return tensors_of(model(*args))


def tensors_of(out) -> list:
    """The tensors of a (possibly nested) output, in order: a ModelOutput's or
    dict's values, tuple and list items; None and numbers are left out."""
    if isinstance(out, dict):  # ModelOutput is an OrderedDict
        return [t for v in out.values() for t in tensors_of(v)]
    if isinstance(out, list | tuple):
        return [t for v in out for t in tensors_of(v)]
    return [] if out is None or isinstance(out, bool | int | float | str) else [out]


# --- `make bench`: the models and inputs of the C-backend speed table ---


def bench_mlp(batch: int):
    def make():
        import torch

        net, _ = d2l_mlp()
        torch.manual_seed(1)
        return net, (torch.randn(batch, 512),)

    return make


def bench_cnn(batch: int):
    def make():
        import torch
        from torch import nn

        torch.manual_seed(0)
        net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
        )  # fmt: skip
        return net.eval(), (torch.randn(batch, 3, 32, 32),)

    return make


def bench_resnet18():
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    cfg = ResNetConfig(
        num_channels=3, embedding_size=64, hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2], layer_type="basic"
    )
    return _randomize_norms(ResNetModel(cfg)).eval(), (torch.randn(1, 3, 224, 224),)


def bench_mobilenet_v2():
    import torch
    from transformers import MobileNetV2Config, MobileNetV2Model

    torch.manual_seed(0)
    cfg = MobileNetV2Config(num_channels=3, image_size=224, depth_multiplier=1.0)
    return _randomize_norms(MobileNetV2Model(cfg)).eval(), (torch.randn(1, 3, 224, 224),)


def bench_bert():
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=8000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
        max_position_embeddings=512,
    )  # fmt: skip
    return BertModel(cfg).eval(), (torch.randint(0, 8000, (1, 128)),)


BENCH: dict[str, Callable] = {
    "mlp b1": bench_mlp(1),
    "mlp b64": bench_mlp(64),
    "mlp b1024": bench_mlp(1024),
    "cnn b1": bench_cnn(1),
    "cnn b32": bench_cnn(32),
    "resnet18": bench_resnet18,
    "mobilenet_v2": bench_mobilenet_v2,
    "bert": bench_bert,
}
"""The rows of `make bench` (issue 7's table): name -> () -> (model, inputs)."""


def schedule_report(names=None, pipeline: str = "canonicalize,cse,fuse") -> list[tuple[str, int, int, int]]:
    """Peak live arena bytes of each zoo model (after `pipeline`) in its traced
    order and after the `schedule` pass: rows (name, ops, before, after).

        $ python -m hybridize.tools.zoo
        model               ops      peak before      peak after   saved
    """
    import hybridize
    from hybridize.ir.module import forward_func
    from hybridize.passes.schedule import peak_bytes

    rows = []
    for name in names or MODELS:
        model, args = MODELS[name]()
        module = hybridize.optimize(hybridize.trace(model, *args), pipeline)
        func = forward_func(module)
        before = peak_bytes(func)
        module = hybridize.run_pipeline(module, "schedule")  # verified after the pass
        after = peak_bytes(forward_func(module))
        rows.append((name, len(func.body.block.ops) - 1, before, after))
    return rows


if __name__ == "__main__":
    print(f"{'model':<18} {'ops':>5} {'peak before':>14} {'peak after':>14} {'saved':>7}")
    for name, n, before, after in schedule_report():
        saved = 100 * (before - after) / before if before else 0.0
        print(f"{name:<18} {n:>5} {before:>14,} {after:>14,} {saved:>6.1f}%")
