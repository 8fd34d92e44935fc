"""Acceptance table from denoise train outputs: python summarise.py DIR [DIR ...]"""
import json, sys
import numpy as np
rows = []
for d in sys.argv[1:]:
    s = json.load(open(f"{d}/summary.json"))
    u = s["unseen"]; sp = u["per_speaker"]; m = u["mean"]
    mag = s["variants"].get("magnitude", {})
    r = {"dir": d, "model": s["model"], "gain": m["gain_db"], "spk1": sp["spk1"]["gain_db"], "spk2": sp["spk2"]["gain_db"],
         "LJ": sp["LJ"]["gain_db"], "at10": u["per_snr"]["10"]["gain_db"], "at0": u["per_snr"]["0"]["gain_db"],
         "at5": u["per_snr"]["5"]["gain_db"], "oracle": m["oracle_gain_db"],
         "si_sdr": m["si_sdr_db"], "in_si_sdr": m["input_si_sdr_db"], "stoi": m["stoi"], "in_stoi": m["input_stoi"],
         "pesq": m["pesq"], "in_pesq": m["input_pesq"],
         "val": s["validation_snr_db"], "held": s["heldout_snr_db"], "held_in": s["heldout_input_snr_db"],
         "pass_mean": u["passthrough"]["mean_snr_db"], "pass_worst": u["passthrough"]["worst_snr_db"],
         "worst_file": u["passthrough"]["worst_file"], "train_s": s["train_seconds"],
         "mask_train_s": s["variants"]["mask"]["train_seconds"],
         "mag_val": mag.get("validation_snr_db"), "mag_held": mag.get("heldout_snr_db"),
         "mag_gain": (mag.get("unseen") or {}).get("mean", {}).get("gain_db")}
    rows.append(r)
keys = [k for k in rows[0] if k not in ("dir", "model", "worst_file")]
print("| run | model | " + " | ".join(keys) + " |")
for r in rows:
    print(f"| {r['dir']} | {r['model']} | " + " | ".join(f"{r[k]:.2f}" if isinstance(r[k], float) else str(r[k]) for k in keys) + f" | {r['worst_file']}")
print("| mean | | " + " | ".join(f"{np.mean([r[k] for r in rows if r[k] is not None]):.2f}" for k in keys) + " |")
