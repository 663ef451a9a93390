"""Every public function and class is documented; the API's functions in numpydoc style."""
import importlib
import inspect
import pkgutil

import pytest
from torch import nn

import discover
import primitives

MODULE_METHODS = {"forward", "zc_flops", "extra_repr"}   # nn.Module plumbing, described by the class


def public_objects():
    for package in (discover, primitives):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):   # running it is the command line itself
                continue
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(obj) or inspect.isclass(obj):
                    yield f"{module.__name__}.{name}", obj
                if inspect.isclass(obj):
                    for attr, member in vars(obj).items():
                        if attr.startswith("_") or (issubclass(obj, nn.Module) and attr in MODULE_METHODS):
                            continue
                        if inspect.isfunction(member) or isinstance(member, property):
                            yield f"{module.__name__}.{name}.{attr}", member


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in public_objects()
               if not (inspect.getdoc(obj.fget if isinstance(obj, property) else obj) or "").strip()]
    assert missing == []


@pytest.mark.parametrize("name", [n for n in discover.__all__ if callable(getattr(discover, n)) and n[0].islower()])
def test_the_api_functions_are_documented_in_numpydoc_style(name):
    obj = getattr(discover, name)
    doc = inspect.getdoc(obj) or ""
    parameters = [p for p in inspect.signature(obj).parameters if p not in ("self", "kwargs")]
    if parameters:
        assert "Parameters\n----------" in doc, name
    if not inspect.isclass(obj):
        assert "Returns\n-------" in doc or "Raises\n------" in doc, name
