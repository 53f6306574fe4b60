"""Find and run the Python blocks of README.rst and docs/*.rst (tests/test_docs.py).

docs/testing.rst, "Writing docs", is the convention's description for authors:
each block is a test named ``<page>:<line>``; its kind (``settings``, ``urls``,
``module``, ``code`` or ``skip``) is inferred or set by an rst comment before it,
``.. snippet: KIND [shop=...] [-- reason]``, whose indented lines are setup code.
:func:`collect` parses the pages, :func:`run` runs one block as its kind says.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import importlib.abc
import importlib.machinery
import inspect
import io
import os
import re
import sys
import textwrap
import tokenize
import types
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent

KINDS = ("code", "settings", "urls", "module", "skip")
SHOPS = ("plainshop", "customershop")

#: Model labels of the docs' example shop, in settings blocks.
SHOP_MODELS = {
    "shop.Order": "plainshop.Order",
    "shop.Purchase": "customershop.Purchase",
}

#: Python packages the examples' files live in: made importable from the page's
#: module blocks (``shop.models`` is the active test shop's models).
EXAMPLE_PACKAGES = ("shop", "shop_project")

#: Stand-ins for placeholder calls (``Order.objects.create(...)``): called with
#: the pytest ``request``, they return what the call stands for.
PLACEHOLDERS = {
    "Order.objects.create": lambda request: request.getfixturevalue("make_order")(),
}

_DIRECTIVE = re.compile(
    r"^(?P<indent>\s*)\.\. (?:code|code-block|sourcecode)::\s*(?P<language>\S*)\s*$"
)
_ANNOTATION = re.compile(r"^(?P<indent>\s*)\.\. snippet:(?P<header>.*)$")
_FILE_COMMENT = re.compile(r"^#\s*(?P<path>[\w/.]+\.py)\s*$")


class SnippetError(Exception):
    """A block breaks the convention (unknown kind, skip without a reason…)."""


@dataclass
class Snippet:
    """One Python block of a page."""

    path: str  # relative to the repository, e.g. "docs/integrating.rst"
    line: int  # the directive's line (1-based)
    code_line: int  # the block's first line of code
    source: str
    kind: str = "code"
    options: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    setup: str = ""
    setup_line: int = 0
    file: str = ""  # "shop/pipeline.py" for a module block

    @property
    def id(self) -> str:
        return "%s:%d" % (self.path, self.line)

    @property
    def module(self) -> str:
        """The dotted name of a module block (``shop/__init__.py`` → ``shop``)."""
        name = self.file[: -len(".py")].replace("/", ".")
        return name[: -len(".__init__")] if name.endswith(".__init__") else name

    @property
    def is_models(self) -> bool:
        return self.kind == "module" and self.file.endswith("models.py")


def pages(root: Path = ROOT) -> list[Path]:
    """The pages whose blocks are tested."""
    return [root / "README.rst", *sorted((root / "docs").glob("*.rst"))]


def collect(root: Path = ROOT) -> list[Snippet]:
    """Every Python block of every page, in page order."""
    snippets = []
    for page in pages(root):
        found = parse(page.read_text(), page.relative_to(root).as_posix())
        files: dict[str, Snippet] = {}
        for snippet in found:
            if snippet.kind != "module" or snippet.is_models:
                continue  # models blocks are checked, never imported
            if snippet.file in files:
                raise SnippetError(
                    "%s: %s is already the module block at line %d; mark a "
                    "fragment of it '.. snippet: code' (with setup that imports "
                    "what it needs)."
                    % (snippet.id, snippet.file, files[snippet.file].line)
                )
            files[snippet.file] = snippet
        snippets.extend(found)
    return snippets


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse(text: str, path: str) -> list[Snippet]:
    """The Python blocks of one page's rst text."""
    lines = text.splitlines()
    snippets = []
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if not match:
            index += 1
            continue
        indent = len(match.group("indent"))
        body_start = index + 1
        end = body_start
        while end < len(lines) and (
            not lines[end].strip() or _indent(lines[end]) > indent
        ):
            end += 1
        if match.group("language") not in ("python", "python3"):
            index = end  # another language's block, examples of rst included
            continue
        body = lines[body_start:end]
        # Directive options (":linenos:") come first; then blank lines.
        while body and (not body[0].strip() or body[0].strip().startswith(":")):
            body.pop(0)
            body_start += 1
        snippet = Snippet(
            path=path,
            line=index + 1,
            code_line=body_start + 1,
            source=textwrap.dedent("\n".join(body)).strip("\n") + "\n",
        )
        _annotate(snippet, lines, index, indent)
        snippets.append(snippet)
        index = end
    return snippets


def _annotate(snippet: Snippet, lines: list[str], index: int, indent: int) -> None:
    """Apply the ``.. snippet:`` comment before the block, or infer the kind."""
    first = snippet.source.splitlines()[0].strip() if snippet.source.strip() else ""
    file_match = _FILE_COMMENT.match(first)
    if file_match:
        snippet.file = file_match.group("path")
    # The comment: the nearest line above at the directive's indentation, with
    # only blank or more indented (setup) lines between.
    above = index - 1
    while above >= 0 and (not lines[above].strip() or _indent(lines[above]) > indent):
        above -= 1
    match = _ANNOTATION.match(lines[above]) if above >= 0 else None
    if match and len(match.group("indent")) == indent:
        header, _, reason = match.group("header").partition("--")
        words = header.split()
        kind = words[0] if words and "=" not in words[0] else "code"
        if kind not in KINDS:
            raise SnippetError(
                "%s: unknown snippet kind %r; use one of %s."
                % (snippet.id, kind, ", ".join(KINDS))
            )
        snippet.kind = kind
        snippet.reason = reason.strip()
        for word in words[1 if words and "=" not in words[0] else 0 :]:
            key, sep, value = word.partition("=")
            if not sep or key != "shop" or value not in SHOPS:
                raise SnippetError(
                    "%s: unknown snippet option %r; the only option is shop=%s."
                    % (snippet.id, word, "|".join(SHOPS))
                )
            snippet.options[key] = value
        setup = lines[above + 1 : index]
        snippet.setup = textwrap.dedent("\n".join(setup)).strip("\n")
        snippet.setup_line = above + 2
        if kind == "skip" and not snippet.reason:
            raise SnippetError(
                "%s: a skipped block needs a reason: '.. snippet: skip -- why'."
                % snippet.id
            )
        if kind == "module" and not snippet.file:
            raise SnippetError(
                "%s: a module block starts with a comment naming its file "
                "('# shop/adapters.py')." % snippet.id
            )
        return
    if snippet.file == "urls.py":
        snippet.kind = "urls"
    elif snippet.file and "/" in snippet.file:
        snippet.kind = "module"
    elif snippet.file == "settings.py" or _looks_like_settings(snippet.source):
        snippet.kind = "settings"


def _looks_like_settings(source: str) -> bool:
    """Only imports and assignments to UPPER_CASE names."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body:
        return False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Assign) and all(
            isinstance(target, ast.Name) and target.id.isupper()
            for target in node.targets
        ):
            continue
        return False
    return any(isinstance(node, ast.Assign) for node in tree.body)


# --- Compiling ------------------------------------------------------------------


class _Placeholders(ast.NodeTransformer):
    """``f(...)`` → ``__placeholder__("f")``; unknown placeholders are an error."""

    def __init__(self, snippet: Snippet):
        self.snippet = snippet

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if (
            len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value is Ellipsis
        ):
            name = ast.unparse(node.func)
            if name not in PLACEHOLDERS:
                raise SnippetError(
                    "%s: %s(...) stands for the reader's own arguments, and "
                    "tests/docs_snippets.py PLACEHOLDERS has no stand-in for it."
                    % (self.snippet.id, name)
                )
            return ast.copy_location(
                ast.Call(
                    func=ast.Name("__placeholder__", ast.Load()),
                    args=[ast.Constant(name)],
                    keywords=[],
                ),
                node,
            )
        return node


def _result_comments(source: str) -> dict[int, object]:
    """Line → the literal a trailing comment starts with (``# "Shipped"``)."""
    results = {}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    with contextlib.suppress(tokenize.TokenError):
        for token in tokens:
            if token.type != tokenize.COMMENT:
                continue
            text = token.string[1:].strip()
            for candidate in (text, text.split(":")[0], text.split(" ")[0]):
                try:
                    ast.literal_eval(candidate.strip())
                except (ValueError, SyntaxError, TypeError, MemoryError):
                    continue
                results[token.start[0]] = candidate.strip()
                break
    return results


class _ResultChecks(ast.NodeTransformer):
    """``expr  # "value"`` → ``__check_result__(expr, "value", "expr")``."""

    def __init__(self, source: str):
        self.results = _result_comments(source)

    def visit_Module(self, node: ast.Module) -> ast.AST:
        for index, statement in enumerate(node.body):
            if not isinstance(statement, ast.Expr):
                continue
            for line in range(statement.lineno, statement.end_lineno + 1):
                if line in self.results:
                    call = ast.Call(
                        func=ast.Name("__check_result__", ast.Load()),
                        args=[
                            statement.value,
                            ast.parse(self.results[line], mode="eval").body,
                            ast.Constant(ast.unparse(statement.value)),
                        ],
                        keywords=[],
                    )
                    node.body[index] = ast.copy_location(ast.Expr(call), statement)
                    break
        return node


def compile_snippet(snippet: Snippet, *, check_results: bool = False):
    """The block's code object; tracebacks point at the page's lines."""
    tree = ast.parse(snippet.source, filename=snippet.path)
    tree = _Placeholders(snippet).visit(tree)
    if check_results:
        tree = _ResultChecks(snippet.source).visit(tree)
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, snippet.code_line - 1)
    return compile(tree, str(ROOT / snippet.path), "exec")


def compile_setup(snippet: Snippet):
    tree = ast.parse(snippet.setup, filename=snippet.path)
    ast.increment_lineno(tree, snippet.setup_line - 1)
    return compile(tree, str(ROOT / snippet.path), "exec")


def _check_result(value, expected, text):
    from django.utils.functional import Promise

    if isinstance(value, Promise):
        value = str(value)
    if value != expected:
        raise AssertionError(
            "%s is %r, but the comment beside it says %r." % (text, value, expected)
        )
    return value


# --- Importing the examples' files ---------------------------------------------


class _PageModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``shop.adapters`` and friends from a page's module blocks."""

    def __init__(self, snippets: list[Snippet], execute):
        self.modules = {
            snippet.module: snippet
            for snippet in snippets
            if snippet.kind == "module" and not snippet.is_models
        }
        self.execute = execute
        self.packages = set(EXAMPLE_PACKAGES)
        for name in self.modules:
            parts = name.split(".")
            self.packages.update(".".join(parts[:n]) for n in range(1, len(parts)))
        self.top_level = {package.split(".")[0] for package in self.packages}

    def claims(self, name: str) -> bool:
        return name.split(".")[0] in self.top_level

    def find_spec(self, name, path=None, target=None):
        if name in self.modules or name in self.packages or name == "shop.models":
            is_package = name in self.packages
            spec = importlib.machinery.ModuleSpec(name, self, is_package=is_package)
            if is_package:
                spec.submodule_search_locations = []
            return spec
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        if name in self.modules:
            self.execute(self.modules[name], module.__dict__)
        elif name == "shop.models":
            from django.conf import settings

            from order_updates.conf import get_order_model

            shop_models = importlib.import_module(
                "tests.testapps.%s.models" % settings.TEST_SHOP
            )
            module.__dict__.update(
                (key, value)
                for key, value in vars(shop_models).items()
                if not key.startswith("__")
            )
            module.Order = get_order_model()


@contextlib.contextmanager
def page_modules(snippets: list[Snippet], execute):
    """Make the page's module blocks importable; forget them afterwards."""
    finder = _PageModules(snippets, execute)
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if finder.claims(name)]:
            del sys.modules[name]


# --- Running --------------------------------------------------------------------


def run(snippet: Snippet, page: list[Snippet], request) -> None:
    """Run one block as its kind says; raises (or fails the test) on a problem.

    The test must have database access (``django_db``): code runs against it.
    """
    import pytest
    from django.conf import settings

    if snippet.kind == "skip":
        pytest.skip(snippet.reason)
    shop = snippet.options.get("shop")
    if shop and shop != settings.TEST_SHOP:
        pytest.skip("written for the %s shape; runs in the %s pass" % (shop, shop))
    if snippet.kind in ("code", "module"):
        # Work the block queues goes to a Redis queue of the test's own.
        request.getfixturevalue("broker_queue")
    with _isolated_state(), page_modules(page, _module_executor(request)):
        if snippet.kind == "settings":
            run_settings(snippet)
        elif snippet.kind == "urls":
            run_urls(snippet)
        elif snippet.is_models:
            run_models(snippet)
        elif snippet.kind == "module":
            importlib.import_module(snippet.module)
            _check_admin()
        else:
            run_code(snippet, request)


def _module_executor(request):
    def execute(snippet: Snippet, namespace: dict) -> None:
        namespace["__placeholder__"] = lambda name: PLACEHOLDERS[name](request)
        if snippet.setup:
            exec(compile_setup(snippet), namespace)
        exec(compile_snippet(snippet), namespace)

    return execute


@contextlib.contextmanager
def _isolated_state():
    """Undo what examples change in process-wide state.

    Signal receivers they connect, Celery tasks they declare and a Celery app
    they create (it becomes the current app), admin registrations (they go to
    a fresh site, checked afterwards by :func:`_check_admin`), environment
    variables, and the test channel's and test SMS provider's outboxes and
    queued failures.
    """
    from celery import _state as celery_state
    from django.contrib import admin
    from django.contrib.admin import sites

    from order_updates import signals
    from order_updates.notifications.channels import test as test_channel
    from order_updates.notifications.channels.sms import test as test_sms

    all_signals = [
        value for value in vars(signals).values() if hasattr(value, "receivers")
    ]
    receivers = {signal: list(signal.receivers) for signal in all_signals}
    celery_app = celery_state.get_current_app()
    # Celery tasks the block declares (@shared_task) are forgotten again, so a
    # later import of the same example does not declare them a second time.
    import order_updates.tasks  # noqa: F401  (its tasks are declared for good)

    finalizers = set(celery_state._on_app_finalizers)
    tasks = {app: set(app._tasks) for app in celery_state._get_active_apps()}
    site = sites.site
    sites.site = admin.site = sites.AdminSite(name="docs_snippet_admin")
    try:
        # Setup code may set environment variables a block reads (os.environ[…]).
        with mock.patch.dict(os.environ):
            yield
    finally:
        sites.site = admin.site = site
        celery_app.set_current()
        celery_state._on_app_finalizers.intersection_update(finalizers)
        for app, names in tasks.items():
            for name in set(app._tasks) - names:
                if name.split(".")[0] in EXAMPLE_PACKAGES:
                    del app._tasks[name]
        for signal, saved in receivers.items():
            signal.receivers[:] = saved
            signal.sender_receivers_cache.clear()
        test_channel.reset()
        test_sms.reset()


def _check_admin() -> None:
    """Admin classes the block registered must pass Django's admin checks."""
    from django.contrib.admin import sites

    errors = [
        error
        for model_admin in sites.site._registry.values()
        for error in model_admin.check()
    ]
    assert not errors, "Admin checks failed:\n%s" % "\n".join(map(str, errors))


def settings_namespace() -> dict:
    """A settings module's globals: the test settings' values, copied."""
    from django.conf import settings

    namespace = {"__name__": "settings", "os": os}
    for name in dir(settings):
        if name.isupper():
            value = getattr(settings, name)
            try:
                namespace[name] = copy.deepcopy(value)
            except Exception:
                namespace[name] = value
    return namespace


def _assigned_names(snippet: Snippet) -> list[str]:
    names = []
    for node in ast.parse(snippet.source).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        names.extend(
            target.id
            for target in targets
            if isinstance(target, ast.Name) and target.id.isupper()
        )
    return names


def settings_overrides(snippet: Snippet) -> dict:
    """What the block changes, merged over the test settings."""
    from django.conf import settings

    from order_updates.conf import ORDER_MODEL_SETTING

    namespace = settings_namespace()
    if snippet.setup:
        exec(compile_setup(snippet), namespace)
    exec(compile_snippet(snippet), namespace)
    overrides = {}
    for name in _assigned_names(snippet):
        value = namespace[name]
        if name == "INSTALLED_APPS":
            missing = [app for app in value if app not in settings.INSTALLED_APPS]
            assert not missing, (
                "INSTALLED_APPS names %s, which the test settings do not install."
                % ", ".join(missing)
            )
            continue
        if name == ORDER_MODEL_SETTING:
            value = SHOP_MODELS.get(value, value)
        overrides[name] = value
    merged = dict(settings.ORDER_UPDATES)
    model = overrides.get(ORDER_MODEL_SETTING, getattr(settings, ORDER_MODEL_SETTING))
    if model != getattr(settings, ORDER_MODEL_SETTING):
        # The test settings' field paths describe the test shop's model.
        merged.pop("ORDER_FIELDS", None)
        merged.pop("ITEM_FIELDS", None)
    if "ORDER_UPDATES" in overrides:
        merged.update(overrides["ORDER_UPDATES"])
    overrides["ORDER_UPDATES"] = merged
    return overrides


def run_settings(snippet: Snippet) -> None:
    """Run the system checks with the block's settings; fail on any of ours."""
    from django.core import checks
    from django.test import override_settings

    overrides = settings_overrides(snippet)
    with override_settings(**overrides):
        problems = [
            message
            for message in checks.run_checks()
            if (message.id or "").startswith("order_updates.")
            and message.level >= checks.WARNING
        ]
        _check_task_names(overrides.get("CELERY_BEAT_SCHEDULE", {}))
    assert not problems, "System checks with these settings:\n%s" % "\n".join(
        map(str, problems)
    )


def _check_task_names(schedule: dict) -> None:
    """Beat entries name order_updates tasks that exist."""
    import celery

    import order_updates.tasks  # noqa: F401  (registers the shared tasks)

    for entry in schedule.values():
        task = entry.get("task", "")
        if task.startswith("order_updates."):
            assert task in celery.current_app.tasks, (
                "CELERY_BEAT_SCHEDULE names the task %r, which order_updates does "
                "not have." % task
            )


def run_urls(snippet: Snippet) -> None:
    """The block as the root URLconf must pass Django's URL checks."""
    from django.core.checks.urls import check_url_config
    from django.test import override_settings
    from django.urls import reverse

    urlconf = types.ModuleType("docs_snippet_urls")
    if snippet.setup:
        exec(compile_setup(snippet), urlconf.__dict__)
    exec(compile_snippet(snippet), urlconf.__dict__)
    assert isinstance(getattr(urlconf, "urlpatterns", None), list), (
        "A urls.py block defines a urlpatterns list."
    )
    with override_settings(ROOT_URLCONF=urlconf):
        errors = check_url_config(None)
        assert not errors, "URL checks:\n%s" % "\n".join(map(str, errors))
        if "order_updates.urls" in snippet.source:
            reverse("order_updates:push_key")


def run_models(snippet: Snippet) -> None:
    """Define the block's models in an isolated registry and check them."""
    from django.apps import apps as global_apps
    from django.db import models
    from django.test.utils import isolate_apps

    with isolate_apps("tests.testapps.plainshop"):
        # Inside an installed app's package, so the models get an app label.
        namespace = {"__name__": "tests.testapps.plainshop.docs_snippet"}
        if snippet.setup:
            exec(compile_setup(snippet), namespace)
        exec(compile_snippet(snippet), namespace)
        defined = [
            value
            for value in namespace.values()
            if isinstance(value, type)
            and issubclass(value, models.Model)
            and value.__module__ == namespace["__name__"]
        ]
        assert defined, "A models.py block defines models."
        errors = []
        for model in defined:
            for error in model.check():
                target = getattr(getattr(error.obj, "remote_field", None), "model", "")
                if error.id == "fields.E300" and isinstance(target, str):
                    # A model outside the block (settings.AUTH_USER_MODEL).
                    with contextlib.suppress(LookupError, ValueError):
                        global_apps.get_model(target)
                        continue
                errors.append(error)
    assert not errors, "Model checks:\n%s" % "\n".join(map(str, errors))


def code_namespace(request) -> dict:
    """The names a code block may use without importing them."""
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction
    from django.test import RequestFactory

    from order_updates import services
    from order_updates.conf import get_order_model

    user = request.getfixturevalue("staff_user")
    http_request = RequestFactory().get("/")
    http_request.user = user
    http_request.session = SessionStore()
    http_request._messages = FallbackStorage(http_request)
    return {
        "__name__": "docs_snippet",
        "__placeholder__": lambda name: PLACEHOLDERS[name](request),
        "__check_result__": _check_result,
        "order": request.getfixturevalue("order"),
        "Order": get_order_model(),
        "user": user,
        "request": http_request,
        "services": services,
        "transaction": transaction,
        # pytest-django's fixture: setup code changes settings for the block
        # ("your test settings"), and they are restored after the test.
        "settings": request.getfixturevalue("settings"),
    }


def run_code(snippet: Snippet, request) -> None:
    """Run the block, then the tests it defines; on-commit callbacks run too."""
    capture = request.getfixturevalue("django_capture_on_commit_callbacks")
    namespace = code_namespace(request)
    predefined = set(namespace)
    with capture(execute=True):
        if snippet.setup:
            exec(compile_setup(snippet), namespace)
        exec(compile_snippet(snippet, check_results=True), namespace)
        for name, value in list(namespace.items()):
            if name in predefined or getattr(value, "__module__", "") != "docs_snippet":
                continue
            if inspect.isfunction(value) and name.startswith("test_"):
                parameters = inspect.signature(value).parameters
                value(**{key: request.getfixturevalue(key) for key in parameters})
            elif isinstance(value, type) and issubclass(value, unittest.TestCase):
                result = unittest.TestResult()
                unittest.defaultTestLoader.loadTestsFromTestCase(value).run(result)
                failures = result.errors + result.failures
                assert result.wasSuccessful() and result.testsRun, (
                    "\n".join(text for _, text in failures) or "%s ran no test." % name
                )
    _check_admin()
