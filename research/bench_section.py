"""Print the BENCHMARKS.md section for issue 14 from the three acceptance runs: bench_section.py D0 D1 D2"""
import json, sys
import numpy as np
runs = [json.load(open(f"{d}/summary.json")) for d in sys.argv[1:]]
f = lambda x: "—" if x is None else f"{x:.2f}"
def row(label, get):
    vals = [get(s) for s in runs]
    ok = [v for v in vals if v is not None]
    return f"| {label} | " + " | ".join(f(v) for v in vals) + f" | **{f(float(np.mean(ok)) if ok else None)}** |"
U = lambda s: s["unseen"]
lines = ["| measure (dB unless noted) | seed 0 | seed 1 | seed 2 | mean |", "|---|---|---|---|---|",
    row("unseen: mean gain (target ≥ 9.5)", lambda s: U(s)["mean"]["gain_db"]),
    *(row(f"unseen: gain, {k} (target ≥ 7)", lambda s, k=k: U(s)["per_speaker"][k]["gain_db"]) for k in ("spk1", "spk2", "LJ")),
    *(row(f"unseen: gain at {k} dB input" + (" (target ≥ 6)" if k == "10" else ""), lambda s, k=k: U(s)["per_snr"][k]["gain_db"]) for k in ("0", "5", "10")),
    row("unseen: oracle gain (|S|, noisy phase)", lambda s: U(s)["mean"]["oracle_gain_db"]),
    row("unseen: SI-SDR out (in)", lambda s: U(s)["mean"]["si_sdr_db"]),
    row("unseen: input SI-SDR", lambda s: U(s)["mean"]["input_si_sdr_db"]),
    row("unseen: STOI out (0-1)", lambda s: U(s)["mean"]["stoi"]),
    row("unseen: STOI in (0-1)", lambda s: U(s)["mean"]["input_stoi"]),
    row("unseen: PESQ-WB out", lambda s: U(s)["mean"]["pesq"]),
    row("unseen: PESQ-WB in", lambda s: U(s)["mean"]["input_pesq"]),
    row("clean passthrough, mean (target ≥ 25)", lambda s: U(s)["passthrough"]["mean_snr_db"]),
    row("clean passthrough, worst file (target ≥ 20)", lambda s: U(s)["passthrough"]["worst_snr_db"]),
    row("validation SNR (target ≥ 12)", lambda s: s["validation_snr_db"]),
    row("held-out test SNR (first 10 %)", lambda s: s["heldout_snr_db"]),
    row("held-out test input SNR", lambda s: s["heldout_input_snr_db"]),
    row("literal magnitude variant: validation SNR", lambda s: s["variants"]["magnitude"]["validation_snr_db"]),
    row("literal magnitude variant: held-out SNR", lambda s: s["variants"]["magnitude"].get("heldout_snr_db")),
    row("literal magnitude variant: unseen mean gain", lambda s: s["variants"]["magnitude"]["unseen"]["mean"]["gain_db"]),
    row("train_seconds, both variants (s, shared CPUs)", lambda s: s["train_seconds"]),
    row("train_seconds, mask only (s)", lambda s: s["variants"]["mask"]["train_seconds"]),
]
print("\n".join(lines))
print("\nworst passthrough files:", [U(s)["passthrough"]["worst_file"] for s in runs], "models:", [s["model"] for s in runs])
