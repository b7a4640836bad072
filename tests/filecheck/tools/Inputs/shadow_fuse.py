"""A plugin that tries to take the built-in name `fuse`."""

from dataclasses import dataclass

from xdsl.passes import ModulePass

from hybridize.passes import register_pass


@register_pass
@dataclass(frozen=True)
class MyFuse(ModulePass):
    name = "fuse"

    def apply(self, ctx, module):
        pass
