"""Facts for ``jetpip doctor``, gathered inside the target interpreter.

This file is run as ``python -c <source> PART [ARGS...]`` by jetpip/doctor.py.
It must run on Python 3.6 and newer with the standard library only, and it
never decides anything: it reports what it saw and doctor.py judges.

Each result is one stdout line ``@@jetpip-doctor@@ {json}``, flushed at once,
so facts gathered before a later import hangs or crashes still reach doctor.
Anything else a package prints is ignored by the reader.
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import traceback
import warnings

MARK = "@@jetpip-doctor@@ "

# Distributions whose RECORD doctor reads (shadowing, CUDA libraries inside).
DETAILED = ("torch", "torchvision", "torchaudio", "onnxruntime", "onnxruntime-gpu", "numpy")


def emit(part, data):
    data["part"] = part
    sys.stdout.write(MARK + json.dumps(data, sort_keys=True) + "\n")
    sys.stdout.flush()


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def error_facts(exc):
    lines = traceback.format_exception_only(type(exc), exc)
    return {"type": type(exc).__name__, "message": str(exc), "text": "".join(lines).strip()}


def read_text(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def header_values(text, key):
    out = []
    prefix = key.lower() + ":"
    for line in text.splitlines():
        if not line.strip():
            break  # the body starts after the first blank line
        if line.lower().startswith(prefix):
            out.append(line[len(prefix):].strip())
    return out


# --- part "env": interpreter and installed distributions, no third-party import --------


def site_dirs():
    seen = []
    for entry in sys.path:
        if entry and os.path.isdir(entry) and entry not in seen:
            seen.append(entry)
    return seen


def dist_facts(info_dir):
    meta = read_text(os.path.join(info_dir, "METADATA")) or read_text(os.path.join(info_dir, "PKG-INFO"))
    if meta is None:
        return None
    names = header_values(meta, "Name")
    versions = header_values(meta, "Version")
    if not names or not versions:
        return None
    facts = {
        "name": canonical(names[0]),
        "version": versions[0],
        "location": info_dir,
        "requires": header_values(meta, "Requires-Dist"),
        "wheel_tags": header_values(read_text(os.path.join(info_dir, "WHEEL")) or "", "Tag"),
        "installer": (read_text(os.path.join(info_dir, "INSTALLER")) or "").strip() or None,
        "direct_url": None,
        "record": [],
    }
    raw = read_text(os.path.join(info_dir, "direct_url.json"))
    if raw:
        with contextlib.suppress(ValueError):
            facts["direct_url"] = json.loads(raw).get("url")
    if facts["name"] in DETAILED:
        record = read_text(os.path.join(info_dir, "RECORD")) or ""
        paths = [line.split(",", 1)[0] for line in record.splitlines() if line.strip()]
        # Shared objects and top-level names are what doctor needs; a full RECORD is large.
        facts["record"] = [p for p in paths if ".so" in os.path.basename(p) or p.count("/") == 1]
    return facts


def installed_dists():
    dists = []
    for entry in site_dirs():
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") or name.endswith(".egg-info"):
                path = os.path.join(entry, name)
                if os.path.isdir(path):
                    facts = dist_facts(path)
                    if facts:
                        facts["site"] = entry
                        dists.append(facts)
    return dists


def base_site_dirs():
    """Where the base interpreter (and Debian/Ubuntu's apt) keeps packages."""
    ver = "python%d.%d" % sys.version_info[:2]
    base = getattr(sys, "base_prefix", sys.prefix)
    cands = [
        os.path.join(base, "lib", ver, "site-packages"),
        os.path.join(base, "lib", "python3", "dist-packages"),
        os.path.join(base, "local", "lib", ver, "dist-packages"),
        "/usr/lib/python3/dist-packages",
        os.path.join("/usr/lib", ver, "dist-packages"),
        os.path.join("/usr/local/lib", ver, "dist-packages"),
    ]
    out = []
    for c in cands:
        if os.path.isdir(c) and c not in out:
            out.append(c)
    return out


def part_env(lib_dirs, use_ldconfig):
    import sysconfig

    base_prefix = getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix))
    is_venv = sys.prefix != base_prefix
    system_site = False
    cfg = read_text(os.path.join(sys.prefix, "pyvenv.cfg"))
    if cfg:
        for line in cfg.splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "include-system-site-packages":
                system_site = value.strip().lower() == "true"
    stdlib = sysconfig.get_paths().get("stdlib") or ""
    marker = os.path.join(stdlib, "EXTERNALLY-MANAGED")
    try:
        import importlib.util

        has_pip = importlib.util.find_spec("pip") is not None
    except Exception:
        has_pip = False
    tensorrt_at = [d for d in base_site_dirs() if os.path.isdir(os.path.join(d, "tensorrt"))]
    emit("env", {
        "executable": sys.executable,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "prefix": sys.prefix,
        "base_prefix": base_prefix,
        "is_venv": is_venv,
        "system_site_packages": system_site,
        "externally_managed": (not is_venv) and os.path.isfile(marker),
        "has_pip": has_pip,
        "tensorrt_in_system_site": tensorrt_at,
        "dists": installed_dists(),
        "libs": library_index(lib_dirs, use_ldconfig),
        "ld_library_path": os.environ.get("LD_LIBRARY_PATH", ""),
    })


def library_index(lib_dirs, use_ldconfig):
    """Every shared-object file name findable, with the first place it was found."""
    found = {}
    if use_ldconfig:
        for exe in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
            try:
                out = subprocess.check_output([exe, "-p"], stderr=subprocess.STDOUT)
            except (OSError, subprocess.CalledProcessError):
                continue
            for line in out.decode("utf-8", "replace").splitlines():
                m = re.match(r"\s*(\S+\.so[.\d]*)\s.*=>\s*(\S+)", line)
                if m:
                    found.setdefault(m.group(1), m.group(2))
            break
        lib_dirs = list(lib_dirs) + [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    # Wheels that carry CUDA libraries (nvidia-cudnn-cu12 and friends) put them here.
    for site in site_dirs():
        nv = os.path.join(site, "nvidia")
        if os.path.isdir(nv):
            for sub in sorted(os.listdir(nv)):
                lib_dirs.append(os.path.join(nv, sub, "lib"))
    for d in lib_dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if ".so" in name:
                found.setdefault(name, os.path.join(d, name))
    return found


# --- part "torch": torch, torchvision, torchaudio in one process (torch imports once) ---


def part_torch(names):
    try:
        import torch
    except BaseException as exc:
        emit("torch", {"imported": False, "error": error_facts(exc)})
        return
    facts = {"imported": True, "version": str(getattr(torch, "__version__", "")),
             "file": getattr(torch, "__file__", None)}
    version = getattr(torch, "version", None)
    facts["cuda"] = getattr(version, "cuda", None) if version is not None else None
    cuda = getattr(torch, "cuda", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            facts["is_available"] = bool(cuda.is_available())
        except Exception as exc:
            facts["is_available"] = False
            facts["cuda_error"] = error_facts(exc)
    facts["cuda_warnings"] = [str(w.message) for w in caught]
    facts["arch_list"] = []
    try:
        facts["arch_list"] = list(cuda.get_arch_list())
    except Exception as exc:
        facts["arch_list_error"] = error_facts(exc)
    if not facts["arch_list"]:
        # get_arch_list() is empty when no GPU is visible; the compiled list is still there.
        try:
            flags = torch._C._cuda_getArchFlags()
            facts["arch_list"] = flags.split() if flags else []
            facts["arch_list_from"] = "torch._C._cuda_getArchFlags"
        except Exception:
            pass
    if facts["is_available"]:
        try:
            facts["device_name"] = str(cuda.get_device_name(0))
            cap = cuda.get_device_capability(0)
            facts["device_capability"] = "%d.%d" % (int(cap[0]), int(cap[1]))
            facts["device_count"] = int(cuda.device_count())
        except Exception as exc:
            facts["device_error"] = error_facts(exc)
    try:
        facts["cudnn"] = torch.backends.cudnn.version()
    except Exception:
        facts["cudnn"] = None
    emit("torch", facts)
    for name in names:
        part_import_only(name)


def part_import_only(name):
    try:
        mod = __import__(name)
        facts = {"imported": True, "version": str(getattr(mod, "__version__", "")),
                 "file": getattr(mod, "__file__", None)}
    except BaseException as exc:
        emit(name, {"imported": False, "error": error_facts(exc)})
        return
    if name == "torchvision":
        # The C++ ops load here; a torchvision built for another torch fails with
        # "operator torchvision::nms does not exist".
        try:
            __import__("torchvision.ops")
            import torch

            _ = torch.ops.torchvision.nms
        except BaseException as exc:
            facts["ops_error"] = error_facts(exc)
    emit(name, facts)


# --- part "numpy" and part "onnxruntime" -------------------------------------------------


def part_numpy():
    part_import_only("numpy")


def part_onnxruntime():
    try:
        import onnxruntime
    except BaseException as exc:
        emit("onnxruntime", {"imported": False, "error": error_facts(exc)})
        return
    facts = {"imported": True, "version": str(getattr(onnxruntime, "__version__", "")),
             "file": getattr(onnxruntime, "__file__", None)}
    try:
        facts["providers"] = list(onnxruntime.get_available_providers())
    except Exception as exc:
        facts["providers"] = []
        facts["providers_error"] = error_facts(exc)
    emit("onnxruntime", facts)


def main(argv):
    part = argv[0] if argv else "env"
    if part == "env":
        request = json.loads(argv[1]) if len(argv) > 1 else {}
        part_env(list(request.get("lib_dirs", [])), bool(request.get("ldconfig", True)))
    elif part == "torch":
        part_torch(argv[1:])
    elif part == "numpy":
        part_numpy()
    elif part == "onnxruntime":
        part_onnxruntime()
    else:
        sys.stderr.write("unknown part %r\n" % part)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
