"""Whether a lock fits the Target it is about to be installed on: checked before anything changes."""

from __future__ import annotations

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from jetpip.lock.pylock import Lock
from jetpip.model.target import Target


def check_lock_fits(
    lock: Lock, target: Target, route_key: str | None = None, origin: str = "pylock.toml",
) -> None:
    """Refuse a lock made for another device or interpreter, before anything is installed."""
    from packaging.markers import InvalidMarker, Marker
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from jetpip.errors import LockError

    problems: list[str] = []
    interp = target.interpreter
    env = target.marker_environment()
    if lock.environments and env:
        try:
            fits = any(Marker(m).evaluate(dict(env)) for m in lock.environments)
        except InvalidMarker as exc:
            raise LockError(f"{origin}: bad environments marker: {exc}",
                            "re-create the lock with `jetpip lock`") from None
        if not fits:
            problems.append(
                f"environments {list(lock.environments)} do not include this interpreter "
                f"(python {interp.python_version}, {env.get('platform_machine', '?')})"
            )
    if lock.requires_python:
        try:
            if not SpecifierSet(lock.requires_python).contains(interp.version, prereleases=True):
                problems.append(f"requires-python {lock.requires_python}, this is Python {interp.version}")
        except InvalidSpecifier:
            problems.append(f"requires-python {lock.requires_python!r} is not a valid specifier")
    here = _target_facts(target)
    for key, label in (("cuda", "CUDA"), ("l4t", "L4T major"), ("arch_kind", "Tegra/SBSA"),
                       ("compute_capability", "compute capability"), ("python", "Python")):
        want, have = lock.target.get(key), here.get(key)
        if key == "l4t" and want:
            want = str(want).split(".")[0]
        if want and have and str(want) != have:
            problems.append(f"locked for {label} {want}, this target has {have}")
    if route_key and lock.route and route_key != lock.route:
        problems.append(f"locked for the route {lock.route}, this target routes to {route_key}")
    accepted = {str(t) for t in target.tags()}
    for pkg in lock.packages:
        try:
            _, _, _, tags = parse_wheel_filename(pkg.filename)
        except InvalidWheelFilename:
            continue
        if not any(str(t) in accepted for t in tags):
            wanted = ", ".join(sorted(str(t) for t in tags))
            problems.append(f"{pkg.filename} ({wanted}) does not install on this interpreter")
    if problems:
        desc = ", ".join(f"{k} {v}" for k, v in lock.target.items()) or "an unrecorded target"
        raise LockError(
            f"{origin} was made for another target ({desc}):\n"
            + "\n".join(f"  - {p}" for p in problems[:12]),
            "re-lock on (or for) this device with `jetpip lock`, or sync with the interpreter "
            "and device the lock was made for",
        )


def _target_facts(target: Target) -> dict[str, str]:
    facts = {
        "cuda": target.cuda.value if target.cuda else None,
        "l4t": target.l4t.value.split(".")[0] if target.l4t else None,
        "arch_kind": target.arch_kind.value if target.arch_kind else None,
        "compute_capability": target.compute_capability.value if target.compute_capability else None,
        "python": target.interpreter.python_version,
    }
    return {k: v for k, v in facts.items() if v}
