"""Registry settings from a truss Chains or truss_train Python file, read without running it.

Trusses defined in Python carry their registry auth in calls, not in a config.yaml:

- Chains: ``CustomImage(image=..., docker_auth=DockerAuthSettings(...))`` (or a dict),
  with the same fields and rules as config.yaml's ``docker_auth``;
- truss_train: ``Image(base_image=..., docker_auth=DockerAuth(auth_method=
  DockerAuthType.X, registry=..., <method>_docker_auth=...))``, one nested object per
  method with ``SecretReference(name=...)``s (truss_train/definitions.py; its models
  are strict: ``auth_method`` must be the enum, unknown arguments are refused).

The file is parsed with :mod:`ast`; nothing in it is imported or run. Values must be
literals, or names bound once at module level to literals; anything else (a function
call, an f-string, an environment lookup) is reported with the flags that say the
same thing on the command line.
"""

from __future__ import annotations

import ast

from docker_credential_truss import files, trussconfig
from docker_credential_truss.authmethods import METHODS, NAMES
from docker_credential_truss.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_AUTH_CALLS = frozenset({"DockerAuthSettings", "DockerAuth"})


class NotLiteral(Exception):
    """A value configure cannot know without running the file."""

    def __init__(self, node: ast.AST, text: str) -> None:
        super().__init__(text)
        self.node = node
        self.text = text


class Method(str):
    """``DockerAuthType.X`` written as the enum member (truss_train insists on it)."""


def read(path: str) -> trussconfig.TrussRegistries:
    """Every docker auth definition in the Python file at ``path``."""
    try:
        source = files.read_text(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {files.reason(exc)}") from None
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError) as exc:
        raise ConfigError(
            f"{path} is not Python configure can read ({type(exc).__name__})"
        ) from None
    return _Reader(path, source, tree).run()


def _callee(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


class _Reader:
    def __init__(self, path: str, source: str, tree: ast.Module) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        self.found = trussconfig.TrussRegistries(path)
        self.names = _module_names(tree)

    def run(self) -> trussconfig.TrussRegistries:
        done: set[int] = set()
        for node in ast.walk(self.tree):
            kind = _callee(node)
            if kind in ("CustomImage", "Image") and isinstance(node, ast.Call):
                self._image(node, kind, done)
        for node in ast.walk(self.tree):
            if _callee(node) in _AUTH_CALLS and id(node) not in done:
                assert isinstance(node, ast.Call)
                self._auth(node, "", self._where(node))
        return self.found

    def _where(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', '?')}"

    def _image(self, node: ast.Call, kind: str, done: set[int]) -> None:
        args = _keywords(node)
        auth = args.get("docker_auth")
        if auth is None:
            return
        auth = self._resolve(auth)
        done.add(id(auth))
        where = self._where(node)
        field = "image" if kind == "CustomImage" else "base_image"
        image_node = args.get(field)
        if image_node is None:
            self.found.problems.append(f"{where}: {kind} needs {field}")
            return
        try:
            image = self._value(image_node)
        except NotLiteral as exc:
            self._not_literal(where, field, exc, {})
            return
        if not isinstance(image, str):
            self.found.problems.append(f"{where}: {kind}'s {field} should be a string")
            return
        if isinstance(auth, ast.Constant) and auth.value is None:
            return
        self._auth(auth, image, where)

    def _auth(self, node: ast.AST, image: str, where: str) -> None:
        kind = _callee(node)
        if kind == "DockerAuth":
            assert isinstance(node, ast.Call)
            settings = self._train(node, where)
        elif kind == "DockerAuthSettings" or isinstance(node, ast.Dict):
            settings = self._settings(node, where)
        else:
            self.found.problems.append(
                f"{where}: docker_auth is not a DockerAuthSettings(...) or DockerAuth(...) call"
                f" ({self._text(node)}); configure reads only literal definitions: {_flags({})}"
            )
            return
        if settings is not None:
            trussconfig.docker_auth(self.found, settings, image, where)

    def _settings(self, node: ast.AST, where: str) -> dict | None:
        """Chains: DockerAuthSettings keywords (or a dict), values as config.yaml has them."""
        if isinstance(node, ast.Dict):
            pairs = list(zip(node.keys, node.values, strict=True))
            if any(k is None for k, _ in pairs):
                self.found.problems.append(f"{where}: docker_auth unpacks another mapping (**)")
                return None
            items = [(k, v) for k, v in pairs]
        else:
            assert isinstance(node, ast.Call)
            if node.args or any(k.arg is None for k in node.keywords):
                self.found.problems.append(
                    f"{where}: pass DockerAuthSettings keyword arguments only"
                )
                return None
            items = [(ast.Constant(k.arg), k.value) for k in node.keywords]
        settings: dict = {}
        for key_node, value_node in items:
            try:
                key = self._value(key_node)
                value = self._value(value_node)
            except NotLiteral as exc:
                self._not_literal(where, _name(key_node), exc, settings)
                return None
            settings[key] = str(value) if isinstance(value, Method) else value
        return settings

    def _train(self, node: ast.Call, where: str) -> dict | None:
        """truss_train: DockerAuth with its nested per-method object, as truss_train checks it."""
        if node.args or any(k.arg is None for k in node.keywords):
            self.found.problems.append(f"{where}: pass DockerAuth keyword arguments only")
            return None
        args = _keywords(node)
        allowed = {"auth_method", "registry"} | {m.train[0] for m in METHODS.values()}
        unknown = sorted(set(args) - allowed)
        if unknown:
            self.found.problems.append(f"{where}: DockerAuth has no argument {', '.join(unknown)}")
            return None
        settings: dict = {}
        try:
            method = self._value(args["auth_method"]) if "auth_method" in args else None
            if not isinstance(method, Method) or method not in METHODS:
                self.found.problems.append(
                    f"{where}: DockerAuth's auth_method must be DockerAuthType.<one of"
                    f" {', '.join(NAMES)}> (truss_train refuses a string)"
                )
                return None
            settings["auth_method"] = str(method)
            registry = self._value(args["registry"]) if "registry" in args else None
            if not isinstance(registry, str):
                self.found.problems.append(f"{where}: DockerAuth needs registry, a string")
                return None
            settings["registry"] = registry
            wanted, fields = METHODS[method].train
            others = [m.train[0] for m in METHODS.values() if m.train[0] != wanted]
            others = [a for a in others if a in args]
            others = [a for a in others if not _is_none(self._resolve(args[a]))]
            nested = self._resolve(args[wanted]) if wanted in args else None
            if nested is None or _is_none(nested):
                self.found.problems.append(
                    f"{where}: {wanted} must be given when auth_method is {method}"
                )
                return None
            if others:
                self.found.problems.append(
                    f"{where}: {', '.join(others)} cannot be given when auth_method is {method}"
                )
                return None
            if (
                not isinstance(nested, ast.Call)
                or nested.args
                or any(k.arg is None for k in nested.keywords)
            ):
                raise NotLiteral(nested, self._text(nested))
            inner = _keywords(nested)
            extra = sorted(set(inner) - set(fields))
            missing = sorted(set(fields) - set(inner))
            if extra or missing:
                what = f"no argument {', '.join(extra)}" if extra else f"needs {', '.join(missing)}"
                self.found.problems.append(f"{where}: {_callee(nested)} {what}")
                return None
            for arg, field in fields.items():
                value = (
                    self._secret_ref(inner[arg]) if _is_secret_ref(arg) else self._value(inner[arg])
                )
                if not isinstance(value, str) or (not _is_secret_ref(arg) and not value):
                    self.found.problems.append(f"{where}: {arg} should be a non-empty string")
                    return None
                settings[field] = value
        except NotLiteral as exc:
            self._not_literal(where, "", exc, settings)
            return None
        return settings

    def _secret_ref(self, node: ast.AST) -> object:
        node = self._resolve(node)
        if _callee(node) == "SecretReference":
            assert isinstance(node, ast.Call)
            args = _keywords(node)
            if not node.args and set(args) == {"name"}:
                return self._value(args["name"])
        raise NotLiteral(node, self._text(node))

    def _resolve(self, node: ast.AST) -> ast.AST:
        seen = 0
        while isinstance(node, ast.Name) and node.id in self.names and seen < 10:
            node = self.names[node.id]
            seen += 1
        return node

    def _value(self, node: ast.AST) -> object:
        """A literal's value, a Method for DockerAuthType.X, or NotLiteral."""
        node = self._resolve(node)
        if isinstance(node, ast.Constant) and (
            node.value is None or isinstance(node.value, (str, int, float, bool))
        ):
            return node.value
        if (
            isinstance(node, ast.Attribute)
            and (
                (isinstance(node.value, ast.Attribute) and node.value.attr == "DockerAuthType")
                or (isinstance(node.value, ast.Name) and node.value.id == "DockerAuthType")
            )
            and node.attr in METHODS
        ):
            return Method(node.attr)
        raise NotLiteral(node, self._text(node))

    def _text(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node) or type(node).__name__
        return text if len(text) <= 60 else text[:57] + "..."

    def _not_literal(self, where: str, field: str, exc: NotLiteral, known: Mapping) -> None:
        about = f" {field}" if field else ""
        self.found.problems.append(
            f"{where}:{about} {exc.text} is not a literal, and configure never runs your"
            f" code; say the same with flags: {_flags(known)}"
        )


def _flags(known: Mapping) -> str:
    """The configure command line for what is known, with placeholders for the rest."""
    parts = ["docker-credential-truss configure"]
    parts.append(f"--registry {known.get('registry') or 'HOST'}")
    parts.append(f"--auth-method {known.get('auth_method') or 'METHOD'}")
    for field, value in known.items():
        if field not in ("registry", "auth_method") and isinstance(value, str):
            parts.append(f"--{field.replace('_', '-')} {value}")
    parts.append("[--<docker_auth field> VALUE]...")
    return " ".join(parts)


def _is_secret_ref(field: str) -> bool:
    """A truss_train field that holds a ``SecretReference`` (read as its ``name``)."""
    return field.endswith("secret_ref")


def _keywords(node: ast.Call) -> dict[str, ast.AST]:
    return {k.arg: k.value for k in node.keywords if k.arg is not None}


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _name(node: ast.AST) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _module_names(tree: ast.Module) -> dict[str, ast.AST]:
    """Names bound exactly once at module level, to the expression they are bound to."""
    bound: dict[str, ast.AST] = {}
    twice: set[str] = set()
    for statement in tree.body:
        targets: list[ast.AST] = []
        value = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                if target.id in bound:
                    twice.add(target.id)
                bound[target.id] = value
    return {k: v for k, v in bound.items() if k not in twice}
