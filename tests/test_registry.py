r"""One place for languages: the spec registry, ``language.spec``, its round trip through files, the
closed-form SER of a saved hard language, and the direction of the imports."""
import ast
import pathlib
import pickle

import numpy as np
import pytest

from mdmlab import synth
from mdmlab import theory
from mdmlab.analysis import cli
from mdmlab.models import schedules

ROOT = pathlib.Path(__file__).resolve().parents[1]
NGRAM_KEYS = "order (int), vocab (int), concentration (float, default 1.0), sparsity (float, default 0.0), seed"

# (spec, what the one line must contain): every class of bad spec
BAD = [
    ("pair-copy:symbols=4,bogus=1", ["unknown key 'bogus'", "valid keys: symbols (int)"]),
    ("ngram:order=3", ["missing required key 'vocab'", NGRAM_KEYS]),
    ("ngram:order=2.5,vocab=4", ["order must be an integer, got '2.5'", NGRAM_KEYS]),
    ("pair-copy:symbols=4.0", ["symbols must be an integer, got '4.0'", "valid keys: symbols"]),
    ("ngram:order=3,vocab=4,sparsity=x", ["sparsity must be a number, got 'x'", NGRAM_KEYS]),
    ("ngram:order=3,vocab", ["expected key=value, got 'vocab'", NGRAM_KEYS]),
    ("ngram:order=3,order=2,vocab=4", ["key 'order' is given twice"]),
    ("zipf:order=2", ["unknown kind 'zipf'", "valid kinds: ngram, hmm, pair-copy, block-copy, all-equal"]),
    ("runs/missing.npz", ["no such file"]),
    ("ngram:order=0,vocab=4", ["order must be >= 1, got 0"]),  # the factory's own check, prefixed
    ("hmm:states=2,vocab=2,sparsity=1.5", ["sparsity must be a finite number in [0.0, 1.0)"]),
]


@pytest.mark.parametrize("spec,needles", BAD)
def test_every_bad_spec_is_one_line_naming_spec_and_key(spec, needles):
    with pytest.raises(ValueError) as exc:
        synth.from_spec(spec)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"language spec {spec!r}: ")
    for needle in needles:
        assert needle in msg


def test_parse_spec_is_canonical_and_checks_without_building():
    spec = synth.parse_spec(" ngram : vocab=8, order=3 ,seed=1 ")
    assert spec == synth.LanguageSpec("ngram", {"order": 3, "vocab": 8, "concentration": 1.0, "sparsity": 0.0,
                                                "seed": 1})
    assert str(spec) == "ngram:order=3,vocab=8,concentration=1.0,sparsity=0.0,seed=1"  # signature order
    assert synth.parse_spec(str(spec)) == spec and hash(synth.parse_spec(str(spec))) == hash(spec)
    assert pickle.loads(pickle.dumps(spec)) == spec
    with pytest.raises(TypeError):
        spec.params["order"] = 4  # read-only
    with pytest.raises(TypeError, match="must be a str"):
        synth.parse_spec(3)
    with pytest.raises(ValueError, match="unknown key 'x'"):
        synth.parse_spec("all-equal:symbols=2,x=1")


@pytest.mark.parametrize("text", ["ngram:order=3,vocab=4,sparsity=0.5,seed=2", "hmm:states=3,vocab=2,seed=7",
                                  "pair-copy:symbols=3", "block-copy:symbols=2,block=3", "all-equal:symbols=2"])
def test_a_built_language_carries_its_spec_and_rebuilds_from_it(text):
    lang = synth.from_spec(text)
    assert lang.spec == synth.parse_spec(text)
    again = synth.from_spec(str(lang.spec))
    assert again.spec == lang.spec
    x = lang.sample(6, 20, rng=0)
    np.testing.assert_array_equal(again.log_prob(x), lang.log_prob(x))
    assert synth.from_spec(lang.spec).spec == lang.spec  # a LanguageSpec is accepted too


def test_constructors_stamp_their_spec():
    assert str(synth.pair_copy(4).spec) == "pair-copy:symbols=4" and theory.pair_copy is synth.pair_copy
    assert str(synth.block_copy(2, 3).spec) == "block-copy:symbols=2,block=3"
    assert str(synth.all_equal(3).spec) == "all-equal:symbols=3"
    random = synth.NGramLanguage.random(3, 4, sparsity=0.5, rng=2)
    assert random.spec == synth.from_spec("ngram:order=3,vocab=4,sparsity=0.5,seed=2").spec
    assert synth.HMMLanguage.random(3, 2, rng=np.int64(7)).spec == synth.parse_spec("hmm:states=3,vocab=2,seed=7")
    # a Generator does not name the draw: no spec could rebuild it
    assert synth.NGramLanguage.random(2, 3, rng=np.random.default_rng(0)).spec is None
    assert synth.HMMLanguage.random(2, 3).spec is None
    assert synth.NGramLanguage(1, [0.5, 0.5]).spec is None  # built by hand


@pytest.mark.parametrize("text", ["pair-copy:symbols=4", "all-equal:symbols=2", "ngram:order=2,vocab=3,seed=4",
                                  "hmm:states=2,vocab=3,concentration=0.5,seed=1"])
def test_save_and_load_keep_the_spec(tmp_path, text):
    lang = synth.from_spec(text)
    path = tmp_path / "lang.npz"
    lang.save(path)
    with np.load(path, allow_pickle=False) as data:  # stored as a JSON string, no pickle
        assert data["spec"].dtype.kind == "U"
    back = synth.load(path)
    assert back.spec == lang.spec and type(back) is type(lang)
    assert synth.from_spec(str(path)).spec == lang.spec


def test_old_files_without_a_spec_still_load(tmp_path):
    lang = synth.pair_copy(2)
    path = tmp_path / "old.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **lang._state())  # what save wrote before specs
    back = synth.load(path)
    assert back.spec is None
    np.testing.assert_array_equal(back.transition, lang.transition)


def test_a_saved_pair_copy_file_gets_the_closed_form(tmp_path):
    path = tmp_path / "pair.npz"
    synth.pair_copy(4).save(path)
    saved = synth.from_spec(str(path))
    for name, L, N in (("linear", 64, 8), ("balanced", 64, 8), ("cosine", 16, 4)):
        plan = schedules.resolve(name, L, N)
        want = theory.closed_form_ser(synth.from_spec("pair-copy:symbols=4"), plan)
        assert want is not None and theory.closed_form_ser(saved, plan) == want


def test_a_path_holding_a_colon_is_read_as_a_file(tmp_path):
    path = tmp_path / "pair-copy:symbols=9.npz"
    synth.pair_copy(3).save(path)
    assert str(synth.from_spec(str(path)).spec) == "pair-copy:symbols=3"
    assert synth.from_spec(path).spec.params["symbols"] == 3  # os.PathLike too


def test_unreadable_files_are_one_line(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_text("not a language")
    with pytest.raises(ValueError, match="is not a saved mdmlab language") as exc:
        synth.from_spec(str(path))
    assert "\n" not in str(exc.value)
    arr = tmp_path / "arr.npy"
    np.save(arr, np.ones(3))
    with pytest.raises(ValueError, match="is not a saved mdmlab language"):
        synth.load(arr)


@pytest.fixture
def cleanup_kinds():
    added = []
    yield added
    for kind in added:
        synth.registry._FACTORIES.pop(kind, None)


def test_register_a_new_kind_and_build_it(cleanup_kinds):
    def uniform(vocab: int, scale: float = 1.0):
        return synth.NGramLanguage(1, np.full(vocab, 1.0 / vocab))

    cleanup_kinds.append("uniform")
    assert synth.register_language("uniform", uniform) is uniform
    assert "uniform" in synth.LANGUAGE_KINDS
    lang = synth.from_spec("uniform:vocab=5")
    assert lang.vocab_size == 5 and str(lang.spec) == "uniform:vocab=5,scale=1.0"
    with pytest.raises(ValueError, match=r"unknown key 'v'.*valid keys: vocab \(int\), scale \(float"):
        synth.from_spec("uniform:v=5")
    with pytest.raises(ValueError, match="already registered"):
        synth.register_language("uniform", uniform)
    synth.register_language("uniform", uniform, replace=True)


def test_register_refuses_factories_whose_keys_cannot_be_checked(cleanup_kinds):
    cleanup_kinds.extend(["kw", "bad:kind", "nan-default"])
    with pytest.raises(ValueError, match="by keyword"):
        synth.register_language("kw", lambda **kw: None)
    with pytest.raises(ValueError, match="language kind must be"):
        synth.register_language("bad:kind", synth.pair_copy)
    with pytest.raises(ValueError, match="default of 'name' must be a number"):
        synth.register_language("nan-default", lambda name="x": None)
    assert not {"kw", "bad:kind", "nan-default"} & set(synth.LANGUAGE_KINDS)


def test_a_factory_must_return_a_language(cleanup_kinds):
    cleanup_kinds.append("not-a-language")
    synth.register_language("not-a-language", lambda n=1: "text")
    with pytest.raises(TypeError, match="must return a synth Language"):
        synth.from_spec("not-a-language")


def test_cli_bad_spec_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["languages", "pair-copy:symbols=4,bogus=1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "unknown key 'bogus'" in err and "valid keys: symbols" in err


def test_cli_languages_shows_the_spec(capsys):
    assert cli.main(["languages", "pair-copy:symbols=2", "--length", "4"]) == 0
    assert "spec: pair-copy:symbols=2" in capsys.readouterr().out


def _imports(path):
    """Every module a file imports, lazy imports inside functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_imports_point_one_way():
    for path in (ROOT / "synth").glob("*.py"):  # synth reads no other package
        bad = {m for m in _imports(path) if m.startswith(("mdmlab.theory", "mdmlab.models", "mdmlab.analysis"))}
        assert not bad, (path.name, bad)
    for path in (ROOT / "models").glob("*.py"):  # models never reaches up into analysis
        assert not {m for m in _imports(path) if m.startswith("mdmlab.analysis")}, path.name
    below = {"_language.py", "ngram.py", "hmm.py", "hard.py", "_spec.py"}  # never import io or registry
    for name in below:
        bad = {m for m in _imports(ROOT / "synth" / name) if m.startswith(("mdmlab.synth.io", "mdmlab.synth.registry"))}
        assert not bad, (name, bad)
    assert not (ROOT / "analysis" / "specs.py").exists() and not (ROOT / "theory" / "languages.py").exists()
