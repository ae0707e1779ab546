"""The claims check: the presets' predicted peak figures against the published ones, and the
founding brief's headline numbers computed from the model (docs/references.md sections 4 and 6)."""

from __future__ import annotations

from typing import Any

from analogue.config import chips
from analogue.config.chips import Chip
from analogue.cost import constants as K
from analogue.cost.peak import peak

#: Published peak figures (docs/references.md section 4): preset name -> (TOPS, TOPS/W).
#: Mythic M1076: 25 TOPS at 3-4 W typical, i.e. 6.25-8.3 TOPS/W; we compare with 3.5 W.
PUBLISHED: dict[str, tuple[float, float]] = {
    "hermes": (63.1, 9.76),
    "hermes-4phase": (16.1, 2.48),
    "mythic-m1076": (25.0, 25.0 / 3.5),
    "neurram-3b_out_1b_in": (2.12, 43.1),
    "neurram-8b_out_6b_in": (0.26, 9.1),
    "gpu-a100": (312.0, 312.0 / 400.0),
}


def preset_chips() -> list[Chip]:
    """Every preset operating point, in the order of the claims table."""
    return [
        chips.hermes(),
        chips.hermes(four_phase=True),
        chips.mythic_m1076(),
        chips.neurram("3b_out_1b_in"),
        chips.neurram("8b_out_6b_in"),
        chips.sram_cim(),
        chips.gpu_a100(),
    ]


def claims_rows() -> list[dict[str, Any]]:
    """One row per preset: predicted and published TOPS and TOPS/W, pJ/MAC, the error."""
    rows = []
    for ch in preset_chips():
        r = peak(ch)
        pub = PUBLISHED.get(ch.name)
        rows.append(
            {
                "chip": ch.name,
                "tops": r.tops,
                "tops_published": pub[0] if pub else None,
                "tops_per_W": r.tops_per_W,
                "tops_per_W_published": pub[1] if pub else None,
                "pJ_per_MAC": r.energy_per_mac_pJ,
                "adc_share": (
                    r.energy_per_mvm_J.get("adc", 0.0) / sum(r.energy_per_mvm_J.values())
                    if r.energy_per_mvm_J
                    else 0.0
                ),
            }
        )
    return rows


def brief_claims() -> dict[str, float]:
    """The founding brief's numbers, computed: one 256x256 array doing 65,536 MACs in 10 ns, the
    energy per MAC of the presets and of a 7 nm GPU, and the analog/GPU ratio."""
    macs = 256 * 256
    tops_per_array = 2 * macs / 10e-9 / 1e12
    gpu = K.GPUS["a100"]
    gpu_pJ_per_mac = 2 * gpu["power_W"] / gpu["ops_per_s"] * 1e12
    hermes = peak(chips.hermes())
    best = min(peak(c).energy_per_mac_pJ for c in preset_chips() if c.is_analog)
    return {
        "tmacs_per_256x256_array_at_10ns": macs / 10e-9 / 1e12,
        "tops_per_256x256_array_at_10ns": tops_per_array,
        "hermes_array_tops_at_130ns": 2 * macs / hermes.mvm_latency_s / 1e12,
        "gpu_a100_pJ_per_MAC": gpu_pJ_per_mac,
        "hermes_pJ_per_MAC": hermes.energy_per_mac_pJ,
        "best_preset_pJ_per_MAC": best,
        "gpu_over_hermes_energy_ratio": gpu_pJ_per_mac / hermes.energy_per_mac_pJ,
        "gpu_over_best_preset_energy_ratio": gpu_pJ_per_mac / best,
    }


def edge_camera_claim() -> dict[str, Any]:
    """The founding brief's "analog flash for real-time edge inference (>1000 frames/s)",
    computed: camera-resolution backbones compiled onto the Mythic M1076 preset
    (:func:`analogue.apps.edge.camera_claim`)."""
    from analogue.apps.edge import camera_claim

    return camera_claim()


def claims_table() -> str:
    """Fixed-width table of :func:`claims_rows` followed by :func:`brief_claims`."""
    head = (
        f"{'chip':<22} {'TOPS':>8} {'published':>9} {'err':>6} {'TOPS/W':>8} {'published':>9} "
        f"{'err':>6} {'pJ/MAC':>7} {'ADC':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in claims_rows():
        def err(a: float, b: float | None) -> str:
            return f"{a / b - 1:+.0%}" if b else "-"

        pub_t = f"{r['tops_published']:.3g}" if r["tops_published"] else "-"
        pub_w = f"{r['tops_per_W_published']:.3g}" if r["tops_per_W_published"] else "-"
        lines.append(
            f"{r['chip']:<22} {r['tops']:>8.3g} {pub_t:>9} {err(r['tops'], r['tops_published']):>6} "
            f"{r['tops_per_W']:>8.3g} {pub_w:>9} {err(r['tops_per_W'], r['tops_per_W_published']):>6} "
            f"{r['pJ_per_MAC']:>7.3g} {r['adc_share']:>5.0%}"
        )
    b = brief_claims()
    lines += [
        "",
        (f"brief: a 256x256 array, 65,536 MACs in 10 ns = {b['tmacs_per_256x256_array_at_10ns']:.2f} "
        f"TMAC/s = {b['tops_per_256x256_array_at_10ns']:.1f} TOPS (2 ops/MAC); HERMES' array takes "
        f"130 ns for 8-bit inputs: {b['hermes_array_tops_at_130ns']:.2f} TOPS"),
        (f"brief: 'picojoules per MAC, 1000x below a 7 nm GPU': A100 at peak "
        f"{b['gpu_a100_pJ_per_MAC']:.2f} pJ/MAC; HERMES {b['hermes_pJ_per_MAC']:.3f} pJ/MAC "
        f"({b['gpu_over_hermes_energy_ratio']:.0f}x); best preset {b['best_preset_pJ_per_MAC']:.3f} "
        f"pJ/MAC ({b['gpu_over_best_preset_energy_ratio']:.0f}x)"),
        f"brief: '>1000 frames/s for edge cameras (analog flash)': {edge_camera_claim()['sentence']}",
    ]
    return "\n".join(lines)
