"""Everything the package imports is declared by the package (setup.cfg).

A third-party module that order_updates imports, but that only happens to be
installed (a dependency of a dependency, or of the test extra), works on the
developers' machines and fails for a shop that installs the package alone. These
tests read the installed distribution's metadata, so they also hold for the
built wheel (tox's dist env).
"""

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import order_updates

DISTRIBUTION = "django-order-updates"
#: Extras that serve the project itself, not shops: the package may not rely on
#: them for anything it imports.
PROJECT_EXTRAS = {"test", "docs", "demo"}
PACKAGE = Path(order_updates.__file__).resolve().parent
#: Optional integrations: package folder → the extra that installs what it
#: imports. Where that extra is not installed (the main suite), its imports are
#: not checked here; its own tox env (with the extra) checks them.
INTEGRATIONS = {"contrib/oscar/": "oscar"}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(node: ast.AST):
    """Top-level module names imported under ``node``, at run time."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            # Only for type checkers; "else:" branches still run.
            for orelse in child.orelse:
                yield from _imports(ast.Module(body=[orelse], type_ignores=[]))
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield alias.name.split(".")[0]
        elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
            yield child.module.split(".")[0]
        yield from _imports(child)


def packages_distributions() -> dict[str, list[str]]:
    """Top-level module → the distributions providing it.

    Python 3.10's ``importlib.metadata.packages_distributions()`` reads only
    ``top_level.txt``, which many wheels no longer have; later versions also read
    each distribution's file list, as this does.
    """
    found: dict[str, list[str]] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        tops = set((distribution.read_text("top_level.txt") or "").split())
        for path in distribution.files or []:
            first = path.parts[0] if path.parts else ""
            if len(path.parts) > 1 and not first.endswith((".dist-info", ".data")):
                tops.add(first)
            elif path.suffix in (".py", ".so", ".pyd") and len(path.parts) == 1:
                tops.add(path.name.split(".")[0])
        for top in tops:
            if top.isidentifier() and name not in found.setdefault(top, []):
                found[top].append(name)
    return found


def third_party_imports() -> dict[str, list[str]]:
    """Module → the package files importing it (function-level imports too)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for module in set(_imports(tree)):
            if module in sys.stdlib_module_names or module == "order_updates":
                continue
            found.setdefault(module, []).append(str(path.relative_to(PACKAGE)))
    return found


def declared_distributions() -> dict[str, str]:
    """Distribution → where it is declared ("install_requires" or "extra push").

    A requirement's own extras count too: ``django-phonenumber-field
    [phonenumberslite]`` declares phonenumberslite.
    """
    user_extras = sorted(
        set(metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or [])
        - PROJECT_EXTRAS
    )
    declared: dict[str, str] = {}
    for text in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(text)
        if requirement.marker is None:
            where = "install_requires"
        else:
            extras = [
                extra
                for extra in user_extras
                if requirement.marker.evaluate({"extra": extra})
            ]
            if not extras:
                continue
            where = "extra " + extras[0]
        name = canonicalize_name(requirement.name)
        declared.setdefault(name, where)
        for extra in requirement.extras:
            for sub_text in metadata.requires(requirement.name) or []:
                sub = Requirement(sub_text)
                if sub.marker is not None and sub.marker.evaluate({"extra": extra}):
                    declared.setdefault(canonicalize_name(sub.name), where)
    return declared


def test_every_third_party_import_is_declared():
    providers = packages_distributions()
    declared = declared_distributions()
    problems = []
    extras = set(metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or [])
    for module, files in sorted(third_party_imports().items()):
        distributions = {canonicalize_name(name) for name in providers.get(module, [])}
        integrations = {
            extra
            for folder, extra in INTEGRATIONS.items()
            if all(file.startswith(folder) for file in files)
        }
        if not distributions and integrations and integrations <= extras:
            continue  # an integration whose extra is not installed here
        if not distributions:
            problems.append(
                "%s (imported by %s) is not installed, so no distribution provides it"
                % (module, ", ".join(files))
            )
        elif not distributions & set(declared):
            problems.append(
                "%s (imported by %s) comes from %s, which setup.cfg does not declare "
                "in install_requires or a shop-facing extra"
                % (module, ", ".join(files), " or ".join(sorted(distributions)))
            )
    assert not problems, "\n".join(problems)


def test_the_scan_sees_lazy_imports_and_skips_type_checking_ones():
    imports = third_party_imports()
    # Imported inside a function of the push channel.
    assert "pywebpush" in imports
    # Imported only under "if TYPE_CHECKING:".
    assert "django_stubs_ext" not in imports


@pytest.mark.parametrize("page", ["README.rst", "docs/installation.rst"])
def test_each_dependency_is_explained(page):
    path = Path(__file__).resolve().parent.parent / page
    if not path.exists():
        pytest.skip("%s is not beside tests/ here (tox dist)" % page)
    text = path.read_text()
    section = text.split("\nDependencies\n", 1)[1].split("\nExtras\n")[0]
    section = section.split("\nTry it\n")[0]
    missing = [
        name
        for name, where in declared_distributions().items()
        if where == "install_requires"
        # The framework itself; phonenumberslite comes with django-phonenumber-field.
        and name not in ("django", "phonenumberslite")
        and "``%s``" % name not in section.lower()
    ]
    assert not missing, "%s's Dependencies section does not explain %s" % (
        page,
        ", ".join(missing),
    )
