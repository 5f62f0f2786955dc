"""An import-linter contract the built-in ones lack: no import circle between modules (files).

`acyclic_siblings` works package by package, so a package that holds one concept top to bottom
(bad cases: model, detectors, replay) would count as a circle with whatever sits between its
parts; and it misses a circle that crosses packages file by file. This contract looks at files:
any strongly connected set of two or more modules is a circle, listed with the imports that
close it. `ignore_imports` takes import-linter's expressions, for the few imports a framework
requires (Django finds an app's models only through its `models` module).
"""

from __future__ import annotations

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.ModuleField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR
    )

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        warnings = contract_utils.remove_ignored_imports(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        roots = tuple(package.name for package in self.packages)  # type: ignore[attr-defined]
        modules = sorted(m for m in graph.modules if m.split(".")[0] in roots)
        edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in set(modules)) for m in modules}
        circles = [sorted(group) for group in _strongly_connected(modules, edges) if len(group) > 1]
        return ContractCheck(
            kept=not circles,
            warnings=warnings,
            metadata={"circles": [[(a, b) for a in group for b in edges[a] if b in group] for group in circles]},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for number, imports in enumerate(check.metadata["circles"], start=1):
            output.print_error(f"Circle {number}:", bold=True)
            for importer, imported in imports:
                output.print(f"  {importer} -> {imported}")
            output.new_line()


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (deep import chains would overflow recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
    return groups
