"""Refute from Python: run models on Refute's deterministic engine.

A thin ctypes layer over librefute.so (the C API of
include/refute/refute.h); numpy arrays in and out, no compiled extension.

    import numpy as np, refute
    m = refute.Model.import_onnx("net.onnx")        # or refute.Model.load("net.rfm")
    r = m.run(np.zeros((1, 3, 32, 32), np.float32), trace=True)
    r.outputs[0], r.trace_root                        # the bits and root every node computes

Errors raise refute.Error, whose message is Refute's ("'x.rfm': cannot
open ...") and whose .code is the C API's REFUTE_ERR_* value.

The library is found through $REFUTE_LIBRARY, else beside an installed
package (PREFIX/lib, for PREFIX/share/refute/python), else in a source
tree's build/, else by the dynamic loader (librefute.so.0).
"""

import ctypes
import os

import numpy as np

__all__ = ["Error", "Model", "Result", "Client", "Audit", "audit", "version",
           "set_threads"]

MAX_RANK = 6

# enum refute_dtype <-> numpy
_DTYPES = {1: np.float32, 2: np.int8, 3: np.int32, 4: np.int64}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


class _Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * MAX_RANK),
                ("data", ctypes.c_void_p)]


class _ValueInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int), ("dims", ctypes.c_int64 * MAX_RANK)]


class _RunOpts(ctypes.Structure):
    _fields_ = [("kernels", ctypes.c_int), ("trace", ctypes.c_int),
                ("hash", ctypes.c_char_p)]


class _Audit(ctypes.Structure):
    _fields_ = [("confirmed", ctypes.c_int), ("executor_won", ctypes.c_int),
                ("op", ctypes.c_uint32), ("rounds", ctypes.c_uint32),
                ("slashed", ctypes.c_uint64), ("reward", ctypes.c_uint64),
                ("dispute_id", ctypes.c_char * 65),
                ("job_id", ctypes.c_char * 65),
                ("reason", ctypes.c_char * 32), ("why", ctypes.c_char * 160)]


class _GenOpts(ctypes.Structure):
    _fields_ = [("n_new", ctypes.c_uint32), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int64), ("top_p", ctypes.c_float),
                ("seed", ctypes.c_uint64), ("kernels", ctypes.c_int),
                ("trace", ctypes.c_int), ("hash", ctypes.c_char_p)]


def _candidates():
    env = os.environ.get("REFUTE_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    # Installed: PREFIX/share/refute/python/refute/ -> PREFIX/lib
    yield os.path.join(here, "..", "..", "..", "..", "lib", "librefute.so.0")
    # A source tree: python/refute/ -> build/
    yield os.path.join(here, "..", "..", "build", "librefute.so")
    yield "librefute.so.0"


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("refute: cannot load librefute.so (set REFUTE_LIBRARY): "
                      + "; ".join(errors or ["not found"]))


_lib = _load()

_P = ctypes.c_void_p
_sigs = {
    "refute_version": (ctypes.c_char_p, []),
    "refute_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "refute_last_error": (ctypes.c_char_p, []),
    "refute_threads_set": (ctypes.c_int, [ctypes.c_uint]),
    "refute_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_P)]),
    "refute_model_import_onnx": (ctypes.c_int, [
        ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
        ctypes.POINTER(_P)]),
    "refute_model_save": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "refute_model_free": (None, [_P]),
    "refute_model_name": (ctypes.c_char_p, [_P]),
    "refute_model_input_count": (ctypes.c_size_t, [_P]),
    "refute_model_output_count": (ctypes.c_size_t, [_P]),
    "refute_model_op_count": (ctypes.c_size_t, [_P]),
    "refute_model_input": (ctypes.c_int, [_P, ctypes.c_size_t,
                                          ctypes.POINTER(_ValueInfo)]),
    "refute_model_output": (ctypes.c_int, [_P, ctypes.c_size_t,
                                           ctypes.POINTER(_ValueInfo)]),
    "refute_model_id": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_size_t]),
    "refute_run": (ctypes.c_int, [_P, ctypes.POINTER(_Tensor), ctypes.c_size_t,
                                  ctypes.POINTER(_RunOpts), ctypes.POINTER(_P)]),
    "refute_result_output_count": (ctypes.c_size_t, [_P]),
    "refute_result_output": (ctypes.c_int, [_P, ctypes.c_size_t,
                                            ctypes.POINTER(_Tensor)]),
    "refute_result_trace_root": (ctypes.c_char_p, [_P]),
    "refute_result_trace_leaves": (ctypes.c_size_t, [_P]),
    "refute_result_free": (None, [_P]),
    "refute_gen_opts_init": (None, [ctypes.POINTER(_GenOpts)]),
    "refute_generate": (ctypes.c_int, [
        _P, ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t,
        ctypes.POINTER(_GenOpts), ctypes.POINTER(_P)]),
    "refute_client_open": (ctypes.c_int, [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
        ctypes.POINTER(_P)]),
    "refute_client_close": (None, [_P]),
    "refute_submit": (ctypes.c_int, [
        _P, _P, ctypes.POINTER(_Tensor), ctypes.c_size_t, ctypes.c_uint64,
        ctypes.c_char_p, ctypes.c_size_t]),
    "refute_wait": (ctypes.c_int, [_P, _P, ctypes.c_char_p, ctypes.c_uint32,
                                   ctypes.POINTER(_P)]),
    "refute_audit_verdict": (ctypes.c_int, [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
        ctypes.POINTER(_Audit)]),
}
for _name, (_res, _args) in _sigs.items():
    _f = getattr(_lib, _name)
    _f.restype = _res
    _f.argtypes = _args


class Error(Exception):
    """A failed Refute call: str(e) is Refute's message, e.code its code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _check(code):
    if code != 0:
        msg = _lib.refute_last_error().decode("utf-8", "replace")
        raise Error(code, msg or _lib.refute_strerror(code).decode())


def _path(p):
    return os.fsencode(p)


def version():
    """The library's version string."""
    return _lib.refute_version().decode()


def set_threads(n):
    """Threads per run (0: one per core). Every count gives the same bits."""
    _check(_lib.refute_threads_set(int(n)))


class Result:
    """A run's outputs (numpy arrays, in graph output order) and, for a
    traced run, the trace root (hex) and its number of leaves."""

    def __init__(self, outputs, trace_root, trace_leaves):
        self.outputs = outputs
        self.trace_root = trace_root
        self.trace_leaves = trace_leaves

    def __repr__(self):
        shapes = ", ".join(f"{o.dtype}{list(o.shape)}" for o in self.outputs)
        root = f", trace_root={self.trace_root}" if self.trace_root else ""
        return f"Result(outputs=[{shapes}]{root})"


def _info(vi):
    rank = vi.rank
    shape = None if rank < 0 else tuple(
        None if d < 0 else int(d) for d in vi.dims[:rank])
    return {"name": vi.name.decode(), "dtype": np.dtype(_DTYPES[vi.dtype]),
            "shape": shape}


class Model:
    """A model loaded from a .rfm file or imported from ONNX."""

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def load(cls, path):
        """A native model file (.rfm)."""
        h = _P()
        _check(_lib.refute_model_load(_path(path), ctypes.byref(h)))
        return cls(h)

    @classmethod
    def import_onnx(cls, path, dims=None):
        """An ONNX file, converted as `refute model import` does; dims maps
        symbolic input dimensions to sizes ({"batch": 1})."""
        items = [f"{k}={int(v)}".encode() for k, v in (dims or {}).items()]
        arr = (ctypes.c_char_p * max(len(items), 1))(*items)
        h = _P()
        _check(_lib.refute_model_import_onnx(_path(path), arr, len(items),
                                             ctypes.byref(h)))
        return cls(h)

    def close(self):
        if self._h:
            _lib.refute_model_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._h:
            raise Error(2, "the model is closed")
        return self._h

    def save(self, path):
        """Writes the native model file (.rfm) that `refute` and nodes read."""
        _check(_lib.refute_model_save(self._handle(), _path(path)))

    @property
    def name(self):
        return _lib.refute_model_name(self._handle()).decode()

    @property
    def op_count(self):
        return _lib.refute_model_op_count(self._handle())

    @property
    def inputs(self):
        """[{name, dtype, shape}] with None for a dynamic dimension."""
        h = self._handle()
        out = []
        for i in range(_lib.refute_model_input_count(h)):
            vi = _ValueInfo()
            _check(_lib.refute_model_input(h, i, ctypes.byref(vi)))
            out.append(_info(vi))
        return out

    @property
    def outputs(self):
        """[{name, dtype, shape}]; shape None when known only at run time."""
        h = self._handle()
        out = []
        for i in range(_lib.refute_model_output_count(h)):
            vi = _ValueInfo()
            _check(_lib.refute_model_output(h, i, ctypes.byref(vi)))
            out.append(_info(vi))
        return out

    def model_id(self, hash="blake3"):
        """The model's model_id (hex) for a hash suite."""
        buf = ctypes.create_string_buffer(65)
        _check(_lib.refute_model_id(self._handle(), hash.encode(), buf, 65))
        return buf.value.decode()

    def generate(self, prompt, n_new, temperature=0.0, top_k=0, top_p=1.0,
                 seed=1, trace=False, hash="blake3", kernels="fast"):
        """Generates n_new tokens after prompt (token ids) with a language
        model, as `refute generate` does; returns a Result whose tokens
        are the new token ids (outputs[1]) and, with trace=True, the
        generation's trace root. temperature 0 is greedy."""
        h = self._handle()
        if kernels not in ("fast", "ref"):
            raise Error(2, f"kernels must be 'fast' or 'ref', not {kernels!r}")
        p = np.ascontiguousarray(np.asarray(prompt, dtype=np.int64).reshape(-1))
        if not 0 <= int(n_new) < 2**32:
            raise Error(3, f"n_new {n_new} is out of range")
        o = _GenOpts()
        _lib.refute_gen_opts_init(ctypes.byref(o))
        o.n_new = int(n_new)
        o.temperature = float(temperature)
        o.top_k = int(top_k)
        o.top_p = float(top_p)
        o.seed = int(seed)
        o.kernels = 1 if kernels == "ref" else 0
        o.trace = 1 if trace else 0
        o.hash = hash.encode()
        r = _P()
        _check(_lib.refute_generate(
            h, p.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), p.size,
            ctypes.byref(o), ctypes.byref(r)))
        res = _result(r)
        res.tokens = res.outputs[1] if len(res.outputs) > 1 else None
        return res

    def run(self, *inputs, trace=False, hash="blake3", kernels="fast"):
        """Runs the model on numpy arrays (one per graph input, in order;
        f32, i8, i32 or i64) and returns a Result. With trace=True the
        result carries the Merkle root of the whole trace, the root an
        executor claims for this job."""
        h = self._handle()
        if kernels not in ("fast", "ref"):
            raise Error(2, f"kernels must be 'fast' or 'ref', not {kernels!r}")
        tens, keep = _tensors(inputs)
        opts = _RunOpts(1 if kernels == "ref" else 0, 1 if trace else 0,
                        hash.encode())
        r = _P()
        _check(_lib.refute_run(h, tens, len(inputs), ctypes.byref(opts),
                               ctypes.byref(r)))
        del keep
        return _result(r)


def _tensors(inputs):
    """refute_tensor views of numpy arrays, and the arrays to keep alive
    until the call returns."""
    arrays = []
    tens = (_Tensor * max(len(inputs), 1))()
    for i, x in enumerate(inputs):
        a = np.asarray(x)
        code = _CODES.get(a.dtype)
        if code is None:
            raise Error(5, f"input {i}: dtype {a.dtype} is not one of "
                           "float32, int8, int32, int64")
        if a.ndim > MAX_RANK:
            raise Error(3, f"input {i}: rank {a.ndim} is over {MAX_RANK}")
        a = np.ascontiguousarray(a)
        arrays.append(a)
        tens[i].dtype = code
        tens[i].rank = a.ndim
        for k, d in enumerate(a.shape):
            tens[i].dims[k] = d
        tens[i].data = a.ctypes.data
    return tens, arrays


def _result(r):
    """A Result from a refute_result (copied out, then freed)."""
    try:
        outs = []
        for i in range(_lib.refute_result_output_count(r)):
            t = _Tensor()
            _check(_lib.refute_result_output(r, i, ctypes.byref(t)))
            dt = np.dtype(_DTYPES[t.dtype])
            shape = tuple(t.dims[:t.rank])
            n = int(np.prod(shape, dtype=np.int64)) if shape else 1
            a = np.empty(shape, dtype=dt)
            if n:
                ctypes.memmove(a.ctypes.data, t.data, n * dt.itemsize)
            outs.append(a)
        root = _lib.refute_result_trace_root(r).decode()
        leaves = _lib.refute_result_trace_leaves(r)
    finally:
        _lib.refute_result_free(r)
    return Result(outs, root or None, leaves)


class Client:
    """A connection to a network's referee: submit jobs and wait for their
    verified results.

        c = refute.Client("tcp://127.0.0.1:7700", identity="client.key")
        job = c.submit(model, x, fee=10)
        r = c.wait(model, job, timeout=60)    # final: outputs, trace_root
    """

    def __init__(self, referee, identity=None, referee_key=None):
        self._h = None
        h = _P()
        _check(_lib.refute_client_open(
            referee.encode(), _path(identity) if identity else None,
            referee_key.encode() if referee_key else None, ctypes.byref(h)))
        self._h = h

    def close(self):
        if self._h:
            _lib.refute_client_close(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def submit(self, model, *inputs, fee=0):
        """Posts a job (inputs checked against the model first); returns
        its id (hex)."""
        if not self._h:
            raise Error(2, "the client is closed")
        tens, keep = _tensors(inputs)
        buf = ctypes.create_string_buffer(65)
        _check(_lib.refute_submit(self._h, model._handle(), tens, len(inputs),
                                  int(fee), buf, 65))
        del keep
        return buf.value.decode()

    def wait(self, model, job, timeout=60.0):
        """The job's result once its claim is final: a Result with the
        outputs and the claimed trace root. A claim that fell in a
        dispute raises Error (code 19), a timeout Error (code 14)."""
        if not self._h:
            raise Error(2, "the client is closed")
        r = _P()
        _check(_lib.refute_wait(self._h, model._handle(), job.encode(),
                                min(int(timeout * 1000), 2**32 - 1),
                                ctypes.byref(r)))
        return _result(r)


class Audit:
    """The replay of a verdict: confirmed (it stands as signed), the
    verdict's winner, reason, operator, rounds, slashed and reward, and
    the replay's account (why)."""

    def __init__(self, a):
        self.confirmed = bool(a.confirmed)
        self.executor_won = bool(a.executor_won)
        self.winner = "executor" if a.executor_won else "challenger"
        self.op = a.op
        self.rounds = a.rounds
        self.slashed = a.slashed
        self.reward = a.reward
        self.dispute_id = a.dispute_id.decode()
        self.job_id = a.job_id.decode()
        self.reason = a.reason.decode()
        self.why = a.why.decode("utf-8", "replace")

    def __repr__(self):
        return (f"Audit({'CONFIRMED' if self.confirmed else 'REFUTED'}: "
                f"the {self.winner} wins ({self.reason}), op {self.op})")


def audit(verdict, genesis, referee_key=None):
    """Replays the verdict file (a dispute's signed VERDICT message) against
    the network's genesis file, as `refute audit` does. A verdict signed by
    any key but the referee's (referee_key, hex, or the genesis's) raises
    Error, as does an unreadable one; a verdict that replays returns an
    Audit whose .confirmed says whether it stands."""
    a = _Audit()
    key = referee_key.encode() if referee_key is not None else None
    _check(_lib.refute_audit_verdict(_path(verdict), _path(genesis), key,
                                     ctypes.byref(a)))
    return Audit(a)
