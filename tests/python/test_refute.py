"""The Python package (python/refute) against the command line.

Every result must be the bits and the trace root `refute model run`
writes for the same model and input; every failure must be a
refute.Error carrying Refute's message, never a crash. Run by
tests/python/run.sh (make check), which sets REFUTE_LIBRARY, RF_REFUTE
and PYTHONPATH.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

import refute

REFUTE = os.environ.get("RF_REFUTE", "bin/refute")
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
ONNX = os.path.join(ROOT, "tests", "data", "onnx")


def cli(*args):
    p = subprocess.run([REFUTE, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"refute {' '.join(args)}: {p.stderr}")
    return p.stdout


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def cli_run(self, model, inputs, hash="blake3", kernels="fast"):
        """Outputs and trace root of `refute model run --trace`."""
        args = ["model", "run", model, "--trace", "--json", "--hash", hash,
                "--kernels", kernels]
        for i, x in enumerate(inputs):
            p = self.path(f"in{i}.npy")
            np.save(p, x)
            args += ["-i", p]
        n_out = len(refute.Model.load(model).outputs)
        for i in range(n_out):
            args += ["-o", self.path(f"out{i}.npy")]
        j = json.loads(cli(*args))
        outs = [np.load(self.path(f"out{i}.npy")) for i in range(n_out)]
        return outs, j["trace_root"], j["n"]

    def assertBits(self, a, b):
        self.assertEqual(a.dtype, b.dtype)
        self.assertEqual(a.shape, b.shape)
        self.assertEqual(a.tobytes(), b.tobytes())


class TestRun(Base):
    def gen(self, kind, **sizes):
        p = self.path(kind + ".rfm")
        args = ["model", "gen", kind, "-o", p, "--seed", "7"]
        for k, v in sizes.items():
            args += ["--" + k, str(v)]
        cli(*args)
        return p

    def test_version(self):
        self.assertEqual(refute.version(),
                         cli("--version").split()[1])

    def test_mlp_matches_cli_bit_for_bit(self):
        p = self.gen("mlp")
        m = refute.Model.load(p)
        self.assertEqual(m.name, "mlp")
        (inp,) = m.inputs
        shape = tuple(d or 1 for d in inp["shape"])
        x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
        for hash in ("blake3", "blake2b", "xxh3"):
            r = m.run(x, trace=True, hash=hash)
            outs, root, n = self.cli_run(p, [x], hash=hash)
            self.assertEqual(r.trace_root, root)
            self.assertEqual(r.trace_leaves, n)
            self.assertEqual(len(r.outputs), len(outs))
            for a, b in zip(r.outputs, outs):
                self.assertBits(a, b)

    def test_cnn_and_transformer_match_cli(self):
        for kind in ("cnn", "transformer"):
            p = self.gen(kind)
            m = refute.Model.load(p)
            xs = []
            for i, inp in enumerate(m.inputs):
                shape = tuple(d or 1 for d in inp["shape"])
                if inp["dtype"] == np.float32:
                    xs.append(np.random.default_rng(i).uniform(
                        -1, 1, shape).astype(np.float32))
                else:
                    xs.append(np.random.default_rng(i).integers(
                        0, 8, shape).astype(inp["dtype"]))
            r = m.run(*xs, trace=True)
            outs, root, _ = self.cli_run(p, xs)
            self.assertEqual(r.trace_root, root, kind)
            for a, b in zip(r.outputs, outs):
                self.assertBits(a, b)
            # The reference kernels and more threads: the same bits.
            refute.set_threads(2)
            try:
                r2 = m.run(*xs, trace=True, kernels="ref")
            finally:
                refute.set_threads(1)
            self.assertEqual(r2.trace_root, root)

    def test_threads_share_a_model(self):
        import threading
        m = refute.Model.load(self.gen("cnn"))
        shape = tuple(d or 1 for d in m.inputs[0]["shape"])
        x = np.random.default_rng(9).uniform(-1, 1, shape).astype(np.float32)
        want = m.run(x, trace=True).trace_root
        roots = []

        def work():
            for _ in range(10):
                roots.append(m.run(x, trace=True).trace_root)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(roots, [want] * 40)

    def test_untraced_run_has_no_root(self):
        m = refute.Model.load(self.gen("mlp"))
        x = np.zeros(tuple(d or 1 for d in m.inputs[0]["shape"]), np.float32)
        r = m.run(x)
        self.assertIsNone(r.trace_root)
        self.assertEqual(r.trace_leaves, 0)
        self.assertTrue(r.outputs[0].flags.writeable)

    def test_onnx_import_matches_cli_and_pytorch(self):
        src = os.path.join(ONNX, "lenet_digits.onnx")
        m = refute.Model.import_onnx(src)
        rfm = self.path("lenet.rfm")
        out = cli("model", "import", src, "-o", rfm)
        # The CLI prints the blake2b model_id of what it wrote.
        self.assertIn("model_id " + m.model_id("blake2b"), out)
        self.assertEqual(refute.Model.load(rfm).model_id(), m.model_id())
        x = np.load(os.path.join(ONNX, "lenet_digits.in0.npy"))
        r = m.run(x, trace=True)
        outs, root, _ = self.cli_run(rfm, [x])
        self.assertEqual(r.trace_root, root)
        self.assertBits(r.outputs[0], outs[0])
        want = np.load(os.path.join(ONNX, "lenet_digits.out0.npy"))
        np.testing.assert_allclose(r.outputs[0], want, atol=1e-4)

    def test_onnx_dims(self):
        src = os.path.join(ONNX, "mlp_dynbatch.onnx")
        m = refute.Model.import_onnx(src, dims={"batch": 3})
        self.assertEqual(m.inputs[0]["shape"][0], 3)
        x = np.load(os.path.join(ONNX, "mlp_dynbatch.in0.npy"))
        x3 = np.concatenate([x] * 3)[:3] if x.shape[0] < 3 else x[:3]
        r = m.run(x3)
        self.assertEqual(r.outputs[0].shape[0], 3)

    def test_save_and_load(self):
        m = refute.Model.import_onnx(os.path.join(ONNX, "mlp_digits.onnx"))
        p = self.path("saved.rfm")
        m.save(p)
        self.assertEqual(refute.Model.load(p).model_id(), m.model_id())
        info = cli("model", "info", p)
        self.assertIn(m.model_id() + " (blake3-256)", info)
        self.assertIn(m.name, info)


class TestGenerate(Base):
    def gpt(self):
        p = self.path("gpt.rfm")
        cli("model", "gen", "gpt", "-o", p, "--seed", "3")
        return p

    def test_generate_matches_cli(self):
        p = self.gpt()
        m = refute.Model.load(p)
        for extra, kw in (([], {}),
                          (["--temperature", "0.8", "--top-k", "5",
                            "--seed", "7"],
                           {"temperature": 0.8, "top_k": 5, "seed": 7}),
                          (["--temperature", "1.5", "--top-p", "0.9",
                            "--seed", "11"],
                           {"temperature": 1.5, "top_p": 0.9, "seed": 11})):
            j = json.loads(cli("generate", p, "--tokens", "1,2,3", "-n", "6",
                               "--trace", "--json", *extra))
            r = m.generate([1, 2, 3], 6, trace=True, **kw)
            self.assertEqual(r.tokens.tolist(), j["tokens"], extra)
            self.assertEqual(r.trace_root, j["trace_root"], extra)
            self.assertEqual(r.trace_leaves, j["n"])
            # Untraced, the same tokens.
            self.assertEqual(m.generate([1, 2, 3], 6, **kw).tokens.tolist(),
                             j["tokens"])

    def test_generate_errors(self):
        m = refute.Model.load(self.gpt())
        with self.assertRaises(refute.Error) as e:
            m.generate([1, 10**9], 2)
        self.assertEqual(e.exception.code, 3)  # REFUTE_ERR_RANGE
        self.assertIn("outside the vocabulary", str(e.exception))
        with self.assertRaises(refute.Error):
            m.generate([1, 2], 10**6)          # beyond the context
        with self.assertRaises(refute.Error):
            m.generate([], 2)                  # no prompt
        with self.assertRaises(refute.Error):
            m.generate([1], 2, temperature=-1)
        mlp = self.path("mlp.rfm")
        cli("model", "gen", "mlp", "-o", mlp)
        with self.assertRaises(refute.Error) as e:
            refute.Model.load(mlp).generate([1], 1)
        self.assertEqual(e.exception.code, 6)  # REFUTE_ERR_NOTSUP
        # Still generates after every failure.
        self.assertEqual(len(m.generate([1, 2], 2).tokens), 2)


class TestErrors(Base):
    def model(self):
        p = self.path("m.rfm")
        cli("model", "gen", "mlp", "-o", p)
        return refute.Model.load(p)

    def test_missing_file(self):
        missing = self.path("nope.rfm")
        with self.assertRaises(refute.Error) as e:
            refute.Model.load(missing)
        self.assertIn(missing, str(e.exception))
        self.assertEqual(e.exception.code, 10)  # REFUTE_ERR_IO
        with self.assertRaises(refute.Error) as e:
            refute.Model.import_onnx(self.path("nope.onnx"))
        self.assertIn("nope.onnx", str(e.exception))

    def test_not_a_model(self):
        p = self.path("junk.rfm")
        with open(p, "wb") as f:
            f.write(b"\x00junk" * 100)
        with self.assertRaises(refute.Error) as e:
            refute.Model.load(p)
        self.assertIn("is not a valid model", str(e.exception))

    def test_unsupported_onnx(self):
        with self.assertRaises(refute.Error) as e:
            refute.Model.import_onnx(os.path.join(ONNX,
                                                  "bad_unsupported_op.onnx"))
        self.assertEqual(e.exception.code, 6)  # REFUTE_ERR_NOTSUP
        self.assertIn("bad_unsupported_op.onnx", str(e.exception))

    def test_bad_dims(self):
        src = os.path.join(ONNX, "mlp_dynbatch.onnx")
        for bad in ({"batch": 0}, {"": 2}):
            with self.assertRaises(refute.Error):
                refute.Model.import_onnx(src, dims=bad)

    def test_wrong_shape(self):
        m = self.model()
        shape = tuple(d or 1 for d in m.inputs[0]["shape"])
        bad = np.zeros(shape[:-1] + (shape[-1] + 1,), np.float32)
        with self.assertRaises(refute.Error) as e:
            m.run(bad)
        self.assertEqual(e.exception.code, 4)  # REFUTE_ERR_SHAPE
        self.assertIn("run failed", str(e.exception))
        # The same message the command line gives.
        np.save(self.path("bad.npy"), bad)
        p = subprocess.run([REFUTE, "model", "run", self.path("m.rfm"), "-i",
                            self.path("bad.npy")], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn(str(e.exception), p.stderr)

    def test_wrong_dtype_count_rank_hash(self):
        m = self.model()
        shape = tuple(d or 1 for d in m.inputs[0]["shape"])
        with self.assertRaises(refute.Error) as e:
            m.run(np.zeros(shape, np.float64))
        self.assertIn("float64", str(e.exception))
        with self.assertRaises(refute.Error) as e:
            m.run(np.zeros(shape, np.int32))
        self.assertEqual(e.exception.code, 5)  # REFUTE_ERR_DTYPE
        with self.assertRaises(refute.Error) as e:
            m.run()
        self.assertIn("takes 1 inputs, 0 given", str(e.exception))
        with self.assertRaises(refute.Error):
            m.run(np.zeros((1,) * 7, np.float32))
        with self.assertRaises(refute.Error) as e:
            m.run(np.zeros(shape, np.float32), trace=True, hash="md5")
        self.assertIn("md5", str(e.exception))
        with self.assertRaises(refute.Error):
            m.run(np.zeros(shape, np.float32), kernels="gpu")
        with self.assertRaises(refute.Error):
            refute.set_threads(100000)
        # After every failure the model still runs.
        self.assertEqual(len(m.run(np.zeros(shape, np.float32)).outputs), 1)

    def test_non_contiguous_input(self):
        m = self.model()
        shape = tuple(d or 1 for d in m.inputs[0]["shape"])
        x = np.random.default_rng(1).standard_normal(
            (shape[1], shape[0])).astype(np.float32).T
        self.assertFalse(x.flags.c_contiguous)
        a = m.run(x, trace=True)
        b = m.run(np.ascontiguousarray(x), trace=True)
        self.assertEqual(a.trace_root, b.trace_root)

    def test_closed_model(self):
        m = self.model()
        m.close()
        with self.assertRaises(refute.Error):
            m.run(np.zeros(1, np.float32))
        m.close()  # twice is fine

class TestAudit(unittest.TestCase):
    """Verdicts from a real network (`refute devnet` with a lying
    executor), audited from Python and by `refute audit`."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = os.path.join(cls.tmp.name, "net")
        out = cli("devnet", "--executors", "2", "--jobs", "4", "--faulty",
                  "1", "--fault", "lie-at-op", "--window-ms", "1500",
                  "--clock-ms", "1500", "--timeout", "90", "--dir", d,
                  "--keep", "--json")
        cls.net = json.loads(out)
        cls.genesis = os.path.join(d, "genesis")
        cls.disputes = [x for x in cls.net["disputes"] if x["decided"]]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_verdicts_confirmed_like_the_cli(self):
        self.assertGreater(len(self.disputes), 0)
        for d in self.disputes:
            a = refute.audit(d["verdict_file"], self.genesis)
            self.assertTrue(a.confirmed, a.why)
            self.assertEqual(a.dispute_id, d["dispute_id"])
            self.assertEqual(a.job_id, d["job_id"])
            self.assertEqual(a.winner, d["winner"])
            self.assertEqual(a.reason, d["reason"])
            self.assertEqual((a.op, a.rounds, a.slashed, a.reward),
                             (d["op"], d["rounds"], d["slashed"], d["reward"]))
            j = json.loads(cli("audit", "--genesis", self.genesis, "--json",
                               d["verdict_file"]))
            self.assertEqual((j["confirmed"], j["winner"], j["reason"],
                              j["op"], j["rounds"], j["replay"]),
                             (a.confirmed, a.winner, a.reason, a.op,
                              a.rounds, a.why))

    def test_forged_and_foreign_verdicts_raise(self):
        d = self.disputes[0]
        with open(d["verdict_file"], "rb") as f:
            buf = bytearray(f.read())
        with tempfile.TemporaryDirectory() as t:
            forged = os.path.join(t, "forged.bin")
            buf[len(buf) // 2] ^= 1
            with open(forged, "wb") as f:
                f.write(buf)
            with self.assertRaises(refute.Error) as e:
                refute.audit(forged, self.genesis)
            self.assertIn("does not replay", str(e.exception))
            with self.assertRaises(refute.Error) as e:
                refute.audit(d["verdict_file"], self.genesis,
                             referee_key="11" * 32)
            self.assertEqual(e.exception.code, 13)  # REFUTE_ERR_CRYPTO
            with self.assertRaises(refute.Error):
                refute.audit(d["verdict_file"], self.genesis,
                             referee_key="not hex")
            with self.assertRaises(refute.Error) as e:
                refute.audit(os.path.join(t, "missing.bin"), self.genesis)
            self.assertEqual(e.exception.code, 11)  # REFUTE_ERR_NOTFOUND
            self.assertIn("missing.bin", str(e.exception))
            with self.assertRaises(refute.Error):
                refute.audit(d["verdict_file"], os.path.join(t, "nogenesis"))


class TestNetwork(unittest.TestCase):
    """Jobs submitted from Python to a network of real processes: the
    nodes of a finished `refute devnet` run, started again from its
    folder (keys, genesis, databases, model)."""

    @classmethod
    def setUpClass(cls):
        import time
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = os.path.join(cls.tmp.name, "net")
        net = json.loads(cli("devnet", "--executors", "2", "--jobs", "1",
                             "--window-ms", "1000", "--timeout", "90",
                             "--dir", d, "--keep", "--json"))
        cls.url, ev = net["referee_url"], net["events_url"]
        with open(os.path.join(d, "referee.key")) as f:
            cls.key = [ln.split()[1] for ln in f if ln.startswith("public ")][0]
        cls.procs = []

        def start(*args, log):
            with open(os.path.join(d, log), "ab") as f:
                cls.procs.append(subprocess.Popen(
                    [REFUTE, *args], stdout=f, stderr=f, cwd=d))
        start("referee", "-k", "referee.key", "-g", "genesis", "-d",
              "referee.db", "-l", cls.url, "-e", ev, log="referee.log")
        for role, name in (("executor", "executor-1"),
                           ("executor", "executor-2"),
                           ("challenger", "challenger-1")):
            start(role, "-k", name + ".key", "-m", "model.rfm", "-d",
                  name + ".db", "-n", name, "-r", cls.url, "-e", ev,
                  "--referee-key", cls.key, log=name + ".log")
        cls.model = refute.Model.load(os.path.join(d, "model.rfm"))
        # The referee takes a moment to listen: retry, not a timed check.
        for attempt in range(300):
            try:
                cls.client = refute.Client(cls.url, os.path.join(
                    d, "client.key"), referee_key=cls.key)
                break
            except refute.Error:
                if attempt == 299:
                    raise
                time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        for p in cls.procs:
            p.terminate()
        for p in cls.procs:
            p.wait()
        cls.tmp.cleanup()

    def test_submit_and_wait_for_the_verified_result(self):
        m = self.model
        shape = tuple(d or 1 for d in m.inputs[0]["shape"])
        x = np.random.default_rng(5).uniform(-1, 1, shape).astype(np.float32)
        job = self.client.submit(m, x, fee=10)
        self.assertEqual(len(job), 64)
        r = self.client.wait(m, job, timeout=120)
        # The network's verified result is the local run, bit for bit.
        local = m.run(x, trace=True)
        self.assertEqual(r.trace_root, local.trace_root)
        self.assertEqual(r.trace_leaves, local.trace_leaves)
        for a, b in zip(r.outputs, local.outputs):
            self.assertEqual(a.tobytes(), b.tobytes())

    def test_refusals(self):
        m = self.model
        shape = tuple(d or 1 for d in m.inputs[0]["shape"])
        # Checked against the model before anything is sent.
        with self.assertRaises(refute.Error) as e:
            self.client.submit(m, np.zeros(shape[:-1] + (shape[-1] + 1,),
                                           np.float32))
        self.assertIn("the inputs do not fit the model", str(e.exception))
        with self.assertRaises(refute.Error):
            self.client.submit(m)
        with self.assertRaises(refute.Error) as e:
            self.client.wait(m, "00" * 32, timeout=5)
        self.assertEqual(e.exception.code, 19)  # refused: no such job
        with self.assertRaises(refute.Error):
            self.client.wait(m, "not a job id")
        # A model the network does not serve.
        other = os.path.join(self.dir, "other.rfm")
        cli("model", "gen", "mlp", "--seed", "99", "-o", other)
        o = refute.Model.load(other)
        with self.assertRaises(refute.Error) as e:
            self.client.submit(o, np.zeros(shape, np.float32))
        self.assertEqual(e.exception.code, 19)
        # A referee key that is not the referee's.
        with self.assertRaises(refute.Error):
            refute.Client(self.url, referee_key="22" * 32)
        with self.assertRaises(refute.Error) as e:
            refute.Client(self.url, identity=os.path.join(self.dir, "nokey"))
        self.assertIn("nokey", str(e.exception))


if __name__ == "__main__":
    unittest.main()
