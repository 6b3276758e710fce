r"""The ``samplers`` report section (analysis/samplers_report.py), shrunk to one language and one N."""
import pandas as pd

from mdmlab.analysis import samplers_report as sr


def test_samplers_report_writes_tables_and_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(sr, "LANGUAGES", ("pair-copy:symbols=4",))
    monkeypatch.setattr(sr, "LENGTH", 16)
    monkeypatch.setattr(sr, "STEPS", (8,))
    monkeypatch.setattr(sr, "FLOAT32_STEPS", (8,))
    monkeypatch.setattr(sr, "PRESETS", {k: sr.PRESETS[k] for k in ("MDLM ddpm_cache", "LLaDA low_confidence T=1")})
    tables = sr.make_samplers_report(str(tmp_path), samples=200)
    ser = pd.read_csv(tmp_path / "tables" / "samplers_ser.csv")
    assert set(ser["preset"]) == {"MDLM ddpm_cache", "LLaDA low_confidence T=1"}
    assert ((ser["ser_low"] <= ser["ser"]) & (ser["ser"] <= ser["ser_high"])).all()
    # LLaDA's lowest-index ties reveal both halves of a pair together at T = 1: nearly every sample fails
    llada = ser[ser["preset"] == "LLaDA low_confidence T=1"].iloc[0]
    assert llada["ser_low"] > 0.9 and (ser["calls"] >= ser["nfe"]).all()
    ties = tables["samplers_ties"].set_index("tie")["ser"]
    assert ties["lowest-index"] >= ties["random"]
    assert 0.5 < tables["samplers_float32"]["ratio"].iloc[0] < 0.9
    text = (tmp_path / "REPORT.md").read_text()
    assert "samplers_ser" in text and (tmp_path / "figures" / "samplers_float32.png").exists()
