"""Which AWS API actions each Lambda entry point can reach, read from the source with mypy's types.

The IAM policy of a function should grant what its code calls and nothing else. This tool derives the
calls from the code, so the comparison (``tests/infra/test_iam_as_used.py``) stays true when the code
changes: it type-checks ``handler.py`` and the runtime package with mypy (third-party packages skipped,
the ``mypy_boto3_*`` stubs followed, so every boto3 client has its service's type), then walks a call
graph from each entry point:

* a call or reference to a function, a method resolved on the receiver's static type, a class
  instantiated (its ``__init__``), ``super()`` methods;
* a receiver typed as a ``Protocol`` reaches the method on every runtime class that implements it;
* a method called on an untyped (``Any``) receiver whose name is an operation of a service the runtime uses
  counts as that call (:data:`UNTYPED_SERVICES`);
* a function, method or lambda used as a value (a callback, a default argument) is reachable from
  where it is used, since it was handed over to be called;
* importing a module runs its top level.

A method called on a ``mypy_boto3_<service>`` client is an API call: ``dynamodb.get_item`` is
``dynamodb:GetItem`` (botocore's own operation names; the few IAM names that differ, like Lambda's ``Invoke`` =
``lambda:InvokeFunction``, are listed in ``_IAM_NAMES``). It is an over-approximation by design: a path
that exists in the code counts even when no test takes it, so a permission is never derived away from
code that can run.

``TransactWriteItems`` is not an IAM action: IAM authorizes a transaction by the actions of its items (a ``Put``
is ``dynamodb:PutItem``, an ``Update`` ``dynamodb:UpdateItem``, a ``Delete`` ``dynamodb:DeleteItem``, a
``ConditionCheck`` ``dynamodb:ConditionCheckItem``; DynamoDB's "Using IAM with transactions"). So the walk also
notes each dictionary display keyed ``Put``, ``Update``, ``Delete`` or ``ConditionCheck`` (a transaction item
being built), and a function that reaches ``transact_write_items`` needs the actions of the items it reaches
instead (:data:`TRANSACTION_ITEMS`); one that reaches the call but builds no item it can see is an error, not
an empty grant.

Usage::

    python tools/boto3_calls.py                 # the table: entry point -> actions
    python tools/boto3_calls.py --json

Example::

    actions = derive_actions({"api": ("handler.lambda_handler",)})
    actions["api"]          # frozenset({"dynamodb:GetItem", "ssm:GetParameter", "sqs:SendMessage", ...})
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from mypy import build
from mypy.find_sources import create_source_list
from mypy.nodes import (
    Decorator,
    DictExpr,
    Expression,
    FuncBase,
    FuncDef,
    Import,
    ImportAll,
    ImportFrom,
    LambdaExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    Node,
    OverloadedFuncDef,
    StrExpr,
    SuperExpr,
    TypeInfo,
)
from mypy.options import Options
from mypy.subtypes import is_subtype
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    Overloaded,
    ProperType,
    TupleType,
    Type,
    TypeOfAny,
    TypeType,
    UnionType,
    get_proper_type,
)

__all__ = ["ENTRY_POINTS", "TRANSACTION_ITEMS", "CallGraph", "derive_actions", "entry_roots", "iam_action", "main"]

ROOT = Path(__file__).resolve().parents[1]
#: The runtime: what the Lambda artifact ships (operator and development tools excluded).
RUNTIME_PATHS = ("handler.py", "contact_sdk")
_EXCLUDED_PACKAGES = ("contact_sdk.ops", "contact_sdk.devtools")
#: Each deployed function's entry point (its Lambda handler); the top level of the handler's module runs too.
ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    "api": ("handler.lambda_handler",),
    "consumer": ("handler.outbox_handler",),
    "hook": ("contact_sdk.deployment_check.pre_traffic_hook",),
}
_STUB_PREFIX = "mypy_boto3_"
#: Services a call on an untyped receiver (``Any``) is matched against by method name: the ones the runtime uses.
UNTYPED_SERVICES = ("dynamodb", "sqs", "ssm", "lambda", "codedeploy")


#: Operations whose IAM action is not named after them (the service authorization reference's names).
_IAM_NAMES = {("lambda", "Invoke"): "InvokeFunction"}
#: A transaction item's key in ``TransactItems`` -> the IAM action that authorizes it.
TRANSACTION_ITEMS: Mapping[str, str] = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
#: Operations IAM authorizes by the actions of their items, not by their own name.
_AUTHORIZED_BY_ITEMS = frozenset({"dynamodb:TransactWriteItems"})


def iam_action(service: str, method: str) -> str | None:
    """``dynamodb:GetItem`` for ``("dynamodb", "get_item")``; None when the method is not an API operation."""
    operation = _operations(service).get(method)
    if operation is None:
        return None
    return f"{_iam_prefix(service)}:{_IAM_NAMES.get((service, operation), operation)}"


@cache
def _operations(service: str) -> dict[str, str]:
    import botocore.session  # noqa: PLC0415 - only when asked
    from botocore import xform_name  # noqa: PLC0415

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def _iam_prefix(service: str) -> str:
    # botocore's service names are the IAM prefixes for every service the runtime uses; the exceptions are listed.
    return {"lambda": "lambda", "codedeploy": "codedeploy"}.get(service, service)


def _service_of(instance: Instance) -> str | None:
    """``dynamodb`` for ``mypy_boto3_dynamodb.client.DynamoDBClient``; None for anything else."""
    fullname = instance.type.fullname
    if not fullname.startswith(_STUB_PREFIX) or not fullname.endswith("Client"):
        return None
    return fullname.split(".", 1)[0].removeprefix(_STUB_PREFIX).replace("_", "-")


@dataclass
class CallGraph:
    """Reachability between the runtime's callables, and the API calls each makes directly."""

    edges: dict[str, set[str]] = field(default_factory=dict)
    actions: dict[str, set[str]] = field(default_factory=dict)
    #: Where each callable makes its API calls: ``(module, line, action)``.
    sites: dict[str, set[tuple[str, int, str]]] = field(default_factory=dict)
    #: The IAM actions of the transaction items each callable builds (:data:`TRANSACTION_ITEMS`).
    items: dict[str, set[str]] = field(default_factory=dict)

    def reachable(self, roots: Iterable[str]) -> set[str]:
        """Every callable reachable from ``roots`` (roots included)."""
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(self.edges.get(node, ()))
        return seen

    def actions_from(self, roots: Iterable[str]) -> frozenset[str]:
        """The IAM actions reachable from ``roots``: a transaction counts as the actions of the items it can write.

        Raises ``ValueError`` when a transaction is reachable but no item it could write is.
        """
        reached = self.reachable(roots)
        actions = {action for node in reached for action in self.actions.get(node, ())}
        transactions = actions & _AUTHORIZED_BY_ITEMS
        if not transactions:
            return frozenset(actions)
        items = {action for node in reached for action in self.items.get(node, ())}
        if not items:
            raise ValueError(f"{', '.join(sorted(transactions))} is reachable, but no transaction item it writes is")
        return frozenset((actions - transactions) | items)

    def sites_from(self, roots: Iterable[str]) -> frozenset[tuple[str, int, str]]:
        """The call sites (module, line, action) reachable from ``roots``."""
        return frozenset(site for node in self.reachable(roots) for site in self.sites.get(node, ()))


def _type_check() -> build.BuildResult:
    options = Options()
    options.export_types = True
    options.incremental = False
    options.follow_imports = "skip"  # third-party code is Any; stub-only packages (mypy_boto3_*) are still read
    options.python_version = (3, 11)
    options.preserve_asts = True
    sources = [
        source
        for source in create_source_list([str(ROOT / path) for path in RUNTIME_PATHS], options)
        if not source.module.startswith(_EXCLUDED_PACKAGES)
    ]
    return build.build(sources, options)


def _is_runtime(fullname: str) -> bool:
    return (fullname == "handler" or fullname.startswith(("handler.", "contact_sdk."))) and not fullname.startswith(
        _EXCLUDED_PACKAGES
    )


#: Attributes of mypy nodes that point back at definitions elsewhere (or repeat a child): never walked into.
_BACK_REFERENCES = frozenset(
    {"node", "info", "original_def", "def_var", "variable", "var", "expanded", "original_decorators", "impl_type"}
)


_ATTRIBUTES: dict[type, tuple[str, ...]] = {}


def _child_attributes(node_type: type) -> tuple[str, ...]:
    """The attributes of a (compiled) mypy node class that may hold child nodes (computed once per class)."""
    found = _ATTRIBUTES.get(node_type)
    if found is None:
        found = _ATTRIBUTES[node_type] = tuple(
            name
            for name in dir(node_type)
            if not name.startswith("_")
            and name not in _BACK_REFERENCES
            and not callable(getattr(node_type, name, None))
        )
    return found


def _children(node: Node) -> Iterator[Node]:
    for name in _child_attributes(type(node)):
        value = getattr(node, name, None)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, Node):
                    yield item
                elif isinstance(item, tuple):  # DictExpr items: (key, value) pairs
                    yield from (part for part in item if isinstance(part, Node))


class _Collector:
    """Walks one callable's body (not the bodies of functions nested in it) recording edges and API calls.

    A plain class walking the nodes' attributes: mypy's visitor classes are compiled and cannot be subclassed.
    """

    def __init__(
        self,
        graph: CallGraph,
        owner: str,
        module: str,
        types: Mapping[Expression, Type],
        classes: Sequence[TypeInfo],
    ) -> None:
        self.graph = graph
        self.owner = owner
        self.module = module
        self.types = types
        self.classes = classes
        self.nested: list[tuple[str, Node]] = []

    def walk(self, node: Node) -> None:
        """Record what ``node`` and its children reach; nested defs and lambdas become their own nodes."""
        if isinstance(node, FuncDef):
            self._edge(node.fullname)
            self.nested.append((node.fullname, node))
            return
        if isinstance(node, LambdaExpr):
            name = _lambda_name(self.owner, node)
            self._edge(name)
            self.nested.append((name, node))
            return
        if isinstance(node, Import):
            for module, _ in node.ids:
                self._edge(f"{module}.<module>")
        elif isinstance(node, ImportFrom | ImportAll):
            self._edge(f"{node.id}.<module>")
        elif isinstance(node, NameExpr):
            self._reference(node.node)
        elif isinstance(node, SuperExpr):
            self._super(node)
        elif isinstance(node, MemberExpr):
            self._member(node)
        elif isinstance(node, DictExpr):
            for key, _ in node.items:
                if isinstance(key, StrExpr) and key.value in TRANSACTION_ITEMS:
                    self.graph.items.setdefault(self.owner, set()).add(TRANSACTION_ITEMS[key.value])
        for child in _children(node):
            self.walk(child)

    def _edge(self, target: str) -> None:
        self.graph.edges.setdefault(self.owner, set()).add(target)

    def _action(self, action: str, line: int) -> None:
        self.graph.actions.setdefault(self.owner, set()).add(action)
        self.graph.sites.setdefault(self.owner, set()).add((self.module, line, action))

    def _super(self, node: SuperExpr) -> None:
        if node.info is None:
            return
        for base in node.info.mro[1:]:
            found = base.names.get(node.name)
            if found is not None:
                self._reference(found.node)
                return

    def _member(self, node: MemberExpr) -> None:
        if node.node is not None:  # a module attribute, or a class attribute reached through its class
            self._reference(node.node)
        receiver = self.types.get(node.expr)
        if receiver is None or isinstance(get_proper_type(receiver), AnyType):
            # An untyped receiver may be a client made without its stub's type: match the name against the
            # services the runtime uses, so a call is never missed for want of a type (an over-approximation).
            for candidate in UNTYPED_SERVICES:
                untyped = iam_action(candidate, node.name)
                if untyped is not None:
                    self._action(untyped, node.line)
            return
        for instance in _instances(receiver):
            service = _service_of(instance)
            if service is not None:
                typed = iam_action(service, node.name)
                if typed is not None:
                    self._action(typed, node.line)
                continue
            for info in self._implementations(instance.type):
                for base in info.mro:
                    found = base.names.get(node.name)
                    if found is not None:
                        self._reference(found.node)
                        break

    def _implementations(self, info: TypeInfo) -> list[TypeInfo]:
        if not info.is_protocol:
            return [info]
        protocol = _any_instance(info)
        return [
            candidate
            for candidate in self.classes
            if not candidate.is_protocol and is_subtype(_any_instance(candidate), protocol)
        ]

    def _reference(self, node: Node | None) -> None:
        if isinstance(node, Decorator):
            node = node.func
        if isinstance(node, OverloadedFuncDef):
            for item in node.items:
                self._reference(item)
            return
        if isinstance(node, FuncBase) and _is_runtime(node.fullname):
            self._edge(node.fullname)
        elif isinstance(node, TypeInfo) and _is_runtime(node.fullname):
            for name in ("__init__", "__post_init__", "__new__", "__call__"):
                for base in node.mro:
                    found = base.names.get(name)
                    if found is not None and isinstance(found.node, FuncBase | Decorator | OverloadedFuncDef):
                        self._reference(found.node)
                        break
        elif isinstance(node, MypyFile) and _is_runtime(node.fullname):
            self._edge(f"{node.fullname}.<module>")


def _any_instance(info: TypeInfo) -> Instance:
    return Instance(info, [AnyType(TypeOfAny.special_form)] * len(info.defn.type_vars))


def _lambda_name(owner: str, expression: LambdaExpr) -> str:
    return f"{owner}.<lambda:{expression.line}:{expression.column}>"


def _instances(typ: Type) -> Iterator[Instance]:
    proper: ProperType = get_proper_type(typ)
    if isinstance(proper, Instance):
        yield proper
    elif isinstance(proper, UnionType):
        for item in proper.items:
            yield from _instances(item)
    elif isinstance(proper, TypeType) and isinstance(proper.item, Instance):
        yield proper.item
    elif isinstance(proper, CallableType) and proper.is_type_obj():
        yield from _instances(proper.ret_type)
    elif isinstance(proper, Overloaded) and proper.is_type_obj():
        yield from _instances(proper.items[0].ret_type)
    elif isinstance(proper, TupleType):
        yield proper.partial_fallback


def _runtime_trees(result: build.BuildResult) -> dict[str, MypyFile]:
    return {name: tree for name, tree in result.files.items() if _is_runtime(name) or name == "handler"}


def build_graph() -> CallGraph:
    """Type-check the runtime and build its call graph (about 10 s)."""
    result = _type_check()
    if result.errors:
        raise RuntimeError("mypy could not analyse the runtime:\n" + "\n".join(result.errors))
    trees = _runtime_trees(result)
    classes = [
        node.node
        for tree in trees.values()
        for node in tree.names.values()
        if isinstance(node.node, TypeInfo) and node.node.module_name == tree.fullname
    ]
    graph = CallGraph()
    pending: list[tuple[str, str, Node]] = [(module, f"{module}.<module>", tree) for module, tree in trees.items()]
    while pending:
        module, owner, node = pending.pop()
        collector = _Collector(graph, owner, module, result.types, classes)
        if isinstance(node, MypyFile):
            for statement in node.defs:
                _visit_top_level(statement, collector, pending)
        elif isinstance(node, FuncDef | LambdaExpr):
            collector.walk(node.body)
            for default in (argument.initializer for argument in node.arguments):
                if default is not None:
                    collector.walk(default)
        pending.extend((module, name, nested) for name, nested in collector.nested)
    return graph


def _visit_top_level(statement: Node, collector: _Collector, pending: list[tuple[str, str, Node]]) -> None:
    """Module and class bodies run at import: their statements belong to the module's node; defs are their own."""
    from mypy.nodes import ClassDef  # noqa: PLC0415 - local: only here

    if isinstance(statement, ClassDef):
        for decorator in statement.decorators:
            collector.walk(decorator)
        for item in statement.defs.body:
            _visit_top_level(item, collector, pending)
        return
    if isinstance(statement, Decorator):
        for decorator in statement.decorators:
            collector.walk(decorator)
        pending.append((collector.module, statement.func.fullname, statement.func))
        return
    if isinstance(statement, OverloadedFuncDef):
        for item in statement.items:
            _visit_top_level(item, collector, pending)
        return
    if isinstance(statement, FuncDef):
        pending.append((collector.module, statement.fullname, statement))
        for argument in statement.arguments:
            if argument.initializer is not None:
                collector.walk(argument.initializer)
        return
    collector.walk(statement)


def derive_actions(
    entry_points: Mapping[str, Sequence[str]] = ENTRY_POINTS, *, graph: CallGraph | None = None
) -> dict[str, frozenset[str]]:
    """Each function's reachable API actions, from its entry points and its handler module's top level.

    Importing the handler's module runs its top level (and the top level of everything it imports) before the
    first invocation, so that counts too.
    """
    graph = graph or build_graph()
    return {name: graph.actions_from(entry_roots(entries, graph)) for name, entries in entry_points.items()}


def entry_roots(entries: Sequence[str], graph: CallGraph) -> list[str]:
    """The entry points and the top levels of the modules that define them; ``KeyError`` for an unknown one."""
    known = _known(graph)
    roots = []
    for entry in entries:
        if entry not in known:
            raise KeyError(f"entry point not found in the runtime: {entry}")
        module = entry.rsplit(".", 1)[0]
        roots += [entry, f"{module}.<module>"]
    return roots


def _known(graph: CallGraph) -> set[str]:
    return set(graph.edges) | {target for targets in graph.edges.values() for target in targets}


def main(argv: Sequence[str] | None = None) -> int:
    """Print each function's actions (a table, or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print {function: [actions]} as JSON")
    args = parser.parse_args(argv)
    actions = derive_actions()
    if args.json:
        print(json.dumps({name: sorted(found) for name, found in actions.items()}, indent=2))
        return 0
    for name, found in actions.items():
        print(f"{name}: {', '.join(sorted(found))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
