"""Facts about the Python running this file, printed as one JSON line (stdlib only, Python 3.6+)."""

# This file runs inside the TARGET interpreter, which may be JetPack 4's Python 3.6:
# no f-strings with '=', no dataclasses, no walrus, no importlib.metadata, no annotations import.
import json
import os
import platform
import re
import sys
import sysconfig


def canonical_name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def full_version(info):
    # PEP 508 format_full_version
    version = "{0.major}.{0.minor}.{0.micro}".format(info)
    kind = info.releaselevel
    if kind != "final":
        version += kind[0] + str(info.serial)
    return version


def marker_environment():
    impl = sys.implementation
    return {
        "implementation_name": impl.name,
        "implementation_version": full_version(impl.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def abi_tag(soabi, ext_suffix):
    """cp310, cp36m, cp313t; pypy39_pp73; None when the interpreter does not say."""
    if not soabi and ext_suffix:
        parts = ext_suffix.split(".")
        soabi = parts[1] if len(parts) > 2 else None
    if not soabi:
        return None
    parts = soabi.split("-")
    if parts[0] == "cpython" and len(parts) > 1:
        return "cp" + parts[1]
    if parts[0].startswith("pypy"):
        return "_".join(parts[:2]).replace(".", "_")
    return re.sub(r"[^A-Za-z0-9]", "_", parts[0])


def glibc_version():
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        return None
    if not value:
        return None
    parts = value.split()
    if len(parts) == 2 and parts[0] == "glibc":
        return parts[1]
    return None


def read_pyvenv_cfg(prefix):
    values = {}
    try:
        with open(os.path.join(prefix, "pyvenv.cfg"), encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip().lower()] = value.strip()
    except (OSError, UnicodeDecodeError):
        pass
    return values


def is_externally_managed(marker_exists, in_venv):
    # PEP 668: the marker in the base interpreter's stdlib applies only outside a venv.
    return bool(marker_exists) and not in_venv


def pip_facts():
    """The target pip's version and its own default index, without importing pip._internal.

    Old pips run their whole CLI setup on ``import pip._internal`` (0.4 s on JetPack 4's pip),
    so the one small module that states the default index is loaded on its own.
    """
    try:
        import importlib.util

        spec = importlib.util.find_spec("pip")
    except Exception:
        return None, None
    if spec is None or not spec.submodule_search_locations:
        return None, None
    pip_dir = next(iter(spec.submodule_search_locations))
    version = None
    text = read_text(os.path.join(pip_dir, "__init__.py")) or ""
    m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
    if m:
        version = m.group(1)
    index = None
    try:
        index_spec = importlib.util.spec_from_file_location(
            "_jetpip_probe_pip_index", os.path.join(pip_dir, "_internal", "models", "index.py")
        )
        module = importlib.util.module_from_spec(index_spec)
        index_spec.loader.exec_module(module)
        index = module.PyPI.simple_url
    except Exception:
        try:
            from pip._internal.models.index import PyPI

            index = PyPI.simple_url
        except Exception:
            index = None
    if not isinstance(index, str):
        index = None
    return version, index


def under(path, prefix):
    path = os.path.normcase(os.path.realpath(path))
    prefix = os.path.normcase(os.path.realpath(prefix))
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def metadata_headers(path):
    """Name, Version and Requires-Dist from an RFC 822 header block (the body is skipped)."""
    name = version = None
    requires = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            last = None
            for line in fh:
                if line in ("\n", "\r\n"):
                    break
                if line[:1] in (" ", "\t"):
                    if last == "requires-dist" and requires:
                        requires[-1] += " " + line.strip()
                    continue
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                last = key.strip().lower()
                value = value.strip()
                if last == "name" and name is None:
                    name = value
                elif last == "version" and version is None:
                    version = value
                elif last == "requires-dist":
                    requires.append(value)
    except OSError:
        return None, None, []
    return name, version, requires


def read_direct_url(path):
    """The URL of a PEP 610 direct_url.json and the sha256 of the archive it names (each or None)."""
    raw = read_text(path)
    if not raw:
        return None, None
    try:
        data = json.loads(raw)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    url = data.get("url") if isinstance(data.get("url"), str) else None
    info = data.get("archive_info")
    digest = None
    if isinstance(info, dict):
        hashes = info.get("hashes")
        if isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str):
            digest = hashes["sha256"]
        elif isinstance(info.get("hash"), str) and info["hash"].startswith("sha256="):
            digest = info["hash"][len("sha256="):]  # the older, single-hash form
    return url, (digest.lower() if digest else None)


def dist_record(entry, dirname, in_system):
    location = os.path.join(entry, dirname)
    if dirname.endswith(".dist-info"):
        name, version, requires = metadata_headers(os.path.join(location, "METADATA"))
    else:
        meta = os.path.join(location, "PKG-INFO") if os.path.isdir(location) else location
        name, version, requires = metadata_headers(meta)
    if not name or not version:
        return None
    installer = read_text(os.path.join(location, "INSTALLER"))
    direct_url, archive_sha256 = read_direct_url(os.path.join(location, "direct_url.json"))
    tags = []
    wheel = read_text(os.path.join(location, "WHEEL"))
    if wheel:
        for line in wheel.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == "tag":
                tags.append(value.strip())
    return {
        "name": canonical_name(name),
        "version": version,
        "location": location,
        "requires": requires,
        "installer": installer.strip() if installer and installer.strip() else None,
        "direct_url": direct_url,
        "archive_sha256": archive_sha256,
        "wheel_tags": tags,
        "in_system_site": in_system,
    }


def installed_distributions(in_venv, prefix, base_prefix, entries=None):
    """Every distribution in the ``entries`` of the path (default: this interpreter's sys.path)."""
    found = []
    seen_dirs = set()
    for entry in sys.path if entries is None else entries:
        if not entry or not os.path.isdir(entry):
            continue
        key = os.path.normcase(os.path.realpath(entry))
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        in_system = in_venv and under(entry, base_prefix) and not under(entry, prefix)
        for dirname in names:
            if dirname.endswith((".dist-info", ".egg-info")):
                record = dist_record(entry, dirname, in_system)
                if record is not None:
                    found.append(record)
    return found


def site_packages():
    dirs = []
    try:
        import site

        dirs.extend(site.getsitepackages())
        if getattr(site, "ENABLE_USER_SITE", False):
            dirs.append(site.getusersitepackages())
    except Exception:
        # old virtualenv's site.py has no getsitepackages
        dirs.append(sysconfig.get_paths()["purelib"])
    return [d for d in dirs if d]


def main():
    prefix = sys.prefix
    base_prefix = getattr(sys, "base_prefix", sys.prefix)
    real_prefix = getattr(sys, "real_prefix", None)  # virtualenv < 20
    in_venv = prefix != base_prefix or real_prefix is not None
    if real_prefix is not None:
        base_prefix = real_prefix
    cfg = read_pyvenv_cfg(prefix) if in_venv else {}
    stdlib = sysconfig.get_paths().get("stdlib") or ""
    soabi = sysconfig.get_config_var("SOABI")
    ext_suffix = sysconfig.get_config_var("EXT_SUFFIX")
    pip_version, pip_index = pip_facts()
    markers = marker_environment()
    out = {
        "probe": 1,
        "executable": sys.executable,
        "version": markers["python_full_version"],
        "implementation": sys.implementation.name,
        "soabi": soabi,
        "ext_suffix": ext_suffix,
        "abi": abi_tag(soabi, ext_suffix),
        "machine": platform.machine(),
        "pointer_bits": 64 if sys.maxsize > 2 ** 32 else 32,
        "glibc": glibc_version(),
        "markers": markers,
        "is_venv": in_venv,
        "system_site_packages": cfg.get("include-system-site-packages", "").lower() == "true",
        "externally_managed": is_externally_managed(
            os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")), in_venv
        ),
        "stdlib": stdlib,
        "pip_version": pip_version,
        "pip_default_index": pip_index,
        "prefix": prefix,
        "base_prefix": base_prefix,
        "site_packages": site_packages(),
        "installed": installed_distributions(in_venv, prefix, base_prefix),
        # Where "installed" came from, to read them again without starting the interpreter
        # (sys.path[0] is this probe's own folder).
        "dist_path": [entry for entry in sys.path[1:] if entry],
    }
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
