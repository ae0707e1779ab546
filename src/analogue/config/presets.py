"""Presets: functions returning ``AnalogConfig``s, each citing where its numbers come from."""

from __future__ import annotations

from analogue.config import (
    ADCConfig,
    AnalogConfig,
    BitSlicing,
    ConfigError,
    DACConfig,
    DeviceConfig,
    Drift,
    Faults,
    Levels,
    MappingConfig,
    NoiseConfig,
    ProgrammingNoise,
    ReadNoise,
    Relaxation,
    Temperature,
    TileConfig,
)


def ideal(rows: int = 256, cols: int = 256) -> AnalogConfig:
    """Every non-ideality off: the layer equals its digital twin (tiling is exact)."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=None, range_policy="dynamic"),
        adc=ADCConfig(bits=None, clip=False),
        mapping=MappingConfig(),
        noise=NoiseConfig(out_std_rel_fs=0.0),
    )


def standard() -> AnalogConfig:
    """A typical inference tile: 256x256 arrays, 8-bit DAC and ADC, output noise on.

    8-bit converters, an output bound of 10 and an output noise of 0.04 in those units
    (0.4 % of full scale) follow the standard crossbar model of Rasch et al., Nat. Commun. 2023
    (docs/references.md section 3); per-vector abs-max input scaling and column-wise weight scaling as
    there; conductances map to ``g_max = 25 uS`` (PCM, Joshi et al. 2020).
    """
    return AnalogConfig(
        tile=TileConfig(rows=256, cols=256),
        dac=DACConfig(bits=8, range_policy="dynamic"),
        adc=ADCConfig(bits=8, out_bound=10.0, clip=True),
        mapping=MappingConfig(g_max_uS=25.0, g_min_uS=0.0, scale="column"),
        noise=NoiseConfig(out_std_rel_fs=0.004),
    )


def quantized(dac_bits: int = 8, adc_bits: int = 8, rows: int = 256, cols: int = 256) -> AnalogConfig:
    """Converters only (no noise): the quantisation floor of a tile."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=dac_bits),
        adc=ADCConfig(bits=adc_bits, out_bound=10.0),
        noise=NoiseConfig(out_std_rel_fs=0.0),
    )


# -- device technologies ------------------------------------------------------------------------
# Each technology preset takes the same feature switches: ``None`` keeps the technology's default,
# ``False`` turns the effect off, ``True`` insists on it -- and fails with the reason when the
# technology has no model of that effect (nothing is silently ignored).

_FEATURES = ("programming_noise", "drift", "read_noise", "relaxation", "temperature")


def _device(kind: str, models: dict[str, tuple[str, object]], why_not: dict[str, str],
            asked: dict[str, bool | None], **extra: object) -> DeviceConfig:
    """``DeviceConfig`` of ``kind`` with the sections in ``models`` (feature -> (field, section))
    that ``asked`` leaves on; ``asked[f] is True`` for a feature outside ``models`` raises."""
    sections: dict[str, object] = {}
    for feature, value in asked.items():
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"{kind}(): {feature} must be True, False or None, got {value!r}")
        if feature not in models:
            if value:
                reason = why_not.get(feature, f"{kind} has no model of {feature.replace('_', ' ')}")
                raise ConfigError(f"{kind}(): cannot model {feature}: {reason}; "
                                  f"pass {feature}=False or None, or build a DeviceConfig yourself")
            continue
        if value is False:
            continue
        name, section = models[feature]
        sections[name] = section
    return DeviceConfig(kind=kind, **sections, **extra)  # type: ignore[arg-type]


def pcm_device(*, programming_noise: bool | None = None, drift: bool | None = None,
               read_noise: bool | None = None, relaxation: bool | None = None,
               temperature: bool | None = None, faults: Faults | None = None) -> DeviceConfig:
    """PCM: the statistical inference model of Nandakumar et al., ICECS 2019, and Joshi et al.,
    Nat. Commun. 11, 2473 (2020), exactly as in docs/references.md section 2.

    - programming noise ``(0.26348 + 1.9650 g - 1.1731 g^2) * g_max/25`` uS, clamped at ``G >= 0``;
    - drift ``((t + 20 s) / 20 s) ** -nu``, ``nu = |N(mu, sigma)|`` per device with
      ``mu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1)``,
      ``sigma = clip(-0.0125 ln g - 0.0059, 0.008, 0.045)``;
    - accumulated 1/f read noise ``Q_s = min(0.0088 / max(g^0.65, 1e-3), 0.2)``,
      ``t_read = 250 ns``.

    Temperature (labelled assumptions, not from the sources above): drift is thermally activated
    structural relaxation (Ielmini et al., IEEE TED 54(2), 2007), modelled with an activation
    energy of 0.3 eV on time; the read conductance rises by 0.5 %/K (the strong temperature
    dependence of PCM conductance: Giannopoulos et al., AICAS 2020), reference 300 K.
    """
    coeffs = tuple(c / 25.0 for c in (0.26348, 1.9650, -1.1731))
    models = {
        "programming_noise": ("programming", ProgrammingNoise(std_poly_frac_gmax=coeffs)),
        "drift": ("drift", Drift(nu_mean_at_g1=0.0244, nu_mean_per_ln_g=-0.0155,
                                 nu_mean_bounds=(0.049, 0.1), nu_std_at_g1=-0.0059,
                                 nu_std_per_ln_g=-0.0125, nu_std_bounds=(0.008, 0.045),
                                 t0_s=20.0, g_floor=1e-7)),
        "read_noise": ("read_noise", ReadNoise(flicker_coeff=0.0088, flicker_g_exponent=0.65,
                                               flicker_g_floor=1e-3, flicker_max=0.2,
                                               t_read_s=250e-9)),
        "temperature": ("temperature", Temperature(reference_k=300.0, drift_activation_eV=0.3,
                                                   g_coeff_per_k=0.005)),
    }
    why = {"relaxation": "PCM's post-programming dynamics are its power-law drift (use drift)"}
    asked = {"programming_noise": programming_noise, "drift": drift, "read_noise": read_noise,
             "relaxation": relaxation, "temperature": temperature}
    return _device("pcm", models, why, asked, faults=faults or Faults())


def pcm(*, rows: int = 256, cols: int = 256, programming_noise: bool | None = None,
        drift: bool | None = None, read_noise: bool | None = None, relaxation: bool | None = None,
        temperature: bool | None = None, faults: Faults | None = None) -> AnalogConfig:
    """A PCM inference tile: the device model of ``pcm_device`` (docs/references.md section 2) on
    256x256 arrays (IBM HERMES, Le Gallo et al., Nat. Electron. 2023) with the periphery of the
    standard crossbar model of Rasch et al., Nat. Commun. 2023 (docs/references.md section 3): 8-bit DAC
    (per-vector range) and ADC, output bound 10, output noise 0.04 (0.4 % of full scale),
    column-wise weight scaling, ``g_max = 25 uS``, ``g_min = 0``."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=8, range_policy="dynamic"),
        adc=ADCConfig(bits=8, out_bound=10.0, clip=True),
        mapping=MappingConfig(g_max_uS=25.0, g_min_uS=0.0, scale="column"),
        noise=NoiseConfig(out_std_rel_fs=0.004),
        device=pcm_device(programming_noise=programming_noise, drift=drift, read_noise=read_noise,
                          relaxation=relaxation, temperature=temperature, faults=faults),
    )


def rram_device(*, levels: int | None = 8, programming_noise: bool | None = None,
                drift: bool | None = None, read_noise: bool | None = None,
                relaxation: bool | None = None, temperature: bool | None = None,
                faults: Faults | None = None) -> DeviceConfig:
    """NeuRRAM-class RRAM (Wan et al., Nature 608, 504 (2022)): 4-bit signed weights as a
    differential pair of 8-level devices, write-verify programming, then conductance relaxation.

    Labelled assumptions (orders of magnitude read from Wan et al., Extended Data Fig. 3c-e, not
    fitted): write-verify leaves 0.5 uS of programming noise; relaxation spreads each device by a
    further 1.5 uS, mostly within ``tau = 100 s`` of programming. No power-law drift and no
    temperature model (``drift=True`` / ``temperature=True`` raise).
    """
    models = {
        "programming_noise": ("programming", ProgrammingNoise(std_poly_frac_gmax=(0.5 / 40.0,))),
        "relaxation": ("relaxation", Relaxation(std_uS=1.5, tau_s=100.0)),
    }
    why = {
        "drift": "NeuRRAM-class RRAM is modelled by relaxation after programming, "
                 "not power-law drift",
        "read_noise": "no accumulated 1/f model is published for NeuRRAM-class RRAM "
                      "(relaxation covers it)",
        "temperature": "no temperature model for RRAM in this preset",
    }
    asked = {"programming_noise": programming_noise, "drift": drift, "read_noise": read_noise,
             "relaxation": relaxation, "temperature": temperature}
    return _device("rram", models, why, asked, faults=faults or Faults(),
                   levels=Levels(per_device=levels))


def rram(*, rows: int = 256, cols: int = 256, levels: int | None = 8,
         programming_noise: bool | None = None, drift: bool | None = None,
         read_noise: bool | None = None, relaxation: bool | None = None,
         temperature: bool | None = None, faults: Faults | None = None) -> AnalogConfig:
    """A NeuRRAM-class RRAM tile (Wan et al., Nature 2022): 256x256 arrays, the 6-bit-in /
    8-bit-out operating point (docs/references.md section 4), devices from 2.5 to 40 uS (on/off 16,
    within the 10-17 of docs/references.md section 5), output noise 0.4 % of full scale as in
    ``standard()``, device model of ``rram_device``."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=6, range_policy="dynamic"),
        adc=ADCConfig(bits=8, out_bound=10.0, clip=True),
        mapping=MappingConfig(g_max_uS=40.0, g_min_uS=2.5, scale="column"),
        noise=NoiseConfig(out_std_rel_fs=0.004),
        device=rram_device(levels=levels, programming_noise=programming_noise, drift=drift,
                           read_noise=read_noise, relaxation=relaxation, temperature=temperature,
                           faults=faults),
    )


def sram_device(*, weight_bits: int = 8, bits_per_slice: int = 1,
                programming_noise: bool | None = None, drift: bool | None = None,
                read_noise: bool | None = None, relaxation: bool | None = None,
                temperature: bool | None = None, faults: Faults | None = None) -> DeviceConfig:
    """SRAM compute-in-memory cells (Jia et al., IEEE JSSC 55(9), 2020): binary cells written
    exactly, weights bit-sliced one bit per column and shifted-and-added digitally. A digital
    bit neither drifts nor carries programming or read noise (asking for them raises)."""
    bits = "an SRAM cell holds a digital bit"
    why = {
        "programming_noise": f"{bits}, written exactly",
        "drift": f"{bits}: it does not drift",
        "read_noise": f"{bits}; analog noise is in the output path (NoiseConfig)",
        "relaxation": f"{bits}: it does not relax",
        "temperature": f"{bits}; its value does not depend on temperature",
    }
    asked = {"programming_noise": programming_noise, "drift": drift, "read_noise": read_noise,
             "relaxation": relaxation, "temperature": temperature}
    per_device = 1 << bits_per_slice
    return _device("sram", {}, why, asked, faults=faults or Faults(),
                   levels=Levels(per_device=per_device),
                   slicing=BitSlicing(weight_bits=weight_bits, bits_per_slice=bits_per_slice))


def sram(*, rows: int = 256, cols: int = 256, weight_bits: int = 8, bits_per_slice: int = 1,
         bits_per_cycle: int | None = None,
         programming_noise: bool | None = None, drift: bool | None = None,
         read_noise: bool | None = None, relaxation: bool | None = None,
         temperature: bool | None = None, faults: Faults | None = None) -> AnalogConfig:
    """An SRAM charge-domain compute-in-memory tile after Jia et al., JSSC 2020: 8-bit weights as
    one column per bit, an 8-bit ADC per column conversion, 8-bit inputs, low output noise
    (0.1 % of full scale: capacitor-based compute, labelled assumption), ADC range 10 (run
    ``an.calibrate_`` to fit it to the data). ``bits_per_cycle``: the inputs bit-serially, that
    many magnitude bits per read, each read converted (``DACConfig.bits_per_cycle``; 1: the
    bit-serial operation of Jia et al.); ``None``: in one read (amplitude)."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=8, range_policy="dynamic", bits_per_cycle=bits_per_cycle),
        adc=ADCConfig(bits=8, out_bound=10.0, clip=True),
        mapping=MappingConfig(g_max_uS=25.0, g_min_uS=0.0, scale="column"),
        noise=NoiseConfig(out_std_rel_fs=0.001),
        device=sram_device(weight_bits=weight_bits, bits_per_slice=bits_per_slice,
                           programming_noise=programming_noise, drift=drift, read_noise=read_noise,
                           relaxation=relaxation, temperature=temperature, faults=faults),
    )


def flash_device(*, levels: int | None = 128, programming_noise: bool | None = None,
                 drift: bool | None = None, read_noise: bool | None = None,
                 relaxation: bool | None = None, temperature: bool | None = None,
                 faults: Faults | None = None) -> DeviceConfig:
    """Embedded-flash multi-level cells, Mythic-class (M1076: 8-bit weights, docs/references.md
    section 4): a differential pair of 128-level cells (signed 8-bit), slow charge-loss drift.

    Charge loss lowers the threshold voltage by an amount logarithmic in time; in subthreshold
    the read current is exponential in it, so the current drifts as a power law with a small
    exponent -- labelled assumption: ``nu = |N(0.001, 0.0005)|`` (1.6 % in 10 years, about 2
    LSB of an 8-bit cell), write-verify noise 0.2 % of the range. Retention bakes are
    Arrhenius-accelerated with 1.1 eV (JEDEC JESD22-A117 / JEP122 for intrinsic charge loss);
    the read current's temperature coefficient is taken as compensated by the sense amplifier's
    reference cells (0). No relaxation or 1/f model (asking raises)."""
    models = {
        "programming_noise": ("programming", ProgrammingNoise(std_poly_frac_gmax=(0.002,))),
        "drift": ("drift", Drift(nu_mean_at_g1=0.001, nu_mean_bounds=(0.0, 1.0),
                                 nu_std_at_g1=0.0005, nu_std_bounds=(0.0, 1.0), t0_s=20.0)),
        "temperature": ("temperature", Temperature(reference_k=300.0, drift_activation_eV=1.1,
                                                   g_coeff_per_k=0.0)),
    }
    why = {"relaxation": "flash charge loss is modelled as slow drift (use drift)",
           "read_noise": "no accumulated 1/f model for flash cells in this preset"}
    asked = {"programming_noise": programming_noise, "drift": drift, "read_noise": read_noise,
             "relaxation": relaxation, "temperature": temperature}
    return _device("flash", models, why, asked, faults=faults or Faults(),
                   levels=Levels(per_device=levels))


def flash(*, rows: int = 1024, cols: int = 1024, levels: int | None = 128,
          programming_noise: bool | None = None, drift: bool | None = None,
          read_noise: bool | None = None, relaxation: bool | None = None,
          temperature: bool | None = None, faults: Faults | None = None) -> AnalogConfig:
    """A Mythic-class analog flash tile: 1024x1024 arrays (80 M weights on 76 tiles is about
    1024^2 per tile, docs/references.md section 4), 8-bit DAC and ADC, output noise 0.4 % of full scale
    as in ``standard()``, ADC range 20 for the longer columns (calibrate with ``an.calibrate_``),
    device model of ``flash_device``."""
    return AnalogConfig(
        tile=TileConfig(rows=rows, cols=cols),
        dac=DACConfig(bits=8, range_policy="dynamic"),
        adc=ADCConfig(bits=8, out_bound=20.0, clip=True),
        mapping=MappingConfig(g_max_uS=25.0, g_min_uS=0.0, scale="column"),
        noise=NoiseConfig(out_std_rel_fs=0.004),
        device=flash_device(levels=levels, programming_noise=programming_noise, drift=drift,
                            read_noise=read_noise, relaxation=relaxation, temperature=temperature,
                            faults=faults),
    )


__all__ = ["flash", "flash_device", "ideal", "pcm", "pcm_device", "quantized", "rram",
           "rram_device", "sram", "sram_device", "standard"]
