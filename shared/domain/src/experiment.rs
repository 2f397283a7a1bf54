//! A/B routing experiments: the statistics of an experiment's arms.
//!
//! Each arm's conversion rate gets a Wilson score interval (95 %), and each test arm is compared
//! with the control (the first arm) by a two-proportion z-test with the pooled variance, the
//! textbook test for a difference of conversion rates. The verdict says in plain words whether
//! the difference is significant at 5 %, and if not, roughly how many leads per arm would detect
//! the observed difference with 80 % power.

use serde::Serialize;

/// z for a two-sided 95 % interval / a 5 % test.
const Z_95: f64 = 1.959_963_984_540_054;
/// z for 80 % power.
const Z_80: f64 = 0.841_621_233_572_914_3;

/// One arm's counts and rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmResult {
    /// The arm.
    pub arm: String,
    /// Leads routed through it.
    pub leads: u64,
    /// Of which converted.
    pub conversions: u64,
    /// `conversions / leads` (0 with no leads).
    pub rate: f64,
    /// 95 % Wilson score interval of the rate.
    pub ci_low: f64,
    /// See `ci_low`.
    pub ci_high: f64,
}

/// A test arm against the control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmTest {
    /// The test arm.
    pub arm: String,
    /// The control arm.
    pub control: String,
    /// Difference of rates, test − control.
    pub difference: f64,
    /// The z statistic (pooled two-proportion test); `None` when it is undefined (an arm with
    /// no leads, or no variance at all).
    pub z: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Whether the difference is significant at 5 %.
    pub significant: bool,
    /// Leads per arm that would detect the observed difference with 80 % power at 5 %.
    pub leads_needed_per_arm: Option<u64>,
    /// In words.
    pub verdict: String,
}

/// The report of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentReport {
    /// The experiment.
    pub id: String,
    /// Per arm, control first.
    pub arms: Vec<ArmResult>,
    /// Each test arm against the control.
    pub tests: Vec<ArmTest>,
}

/// The report from each arm's `(name, leads, conversions)`, control first.
pub fn report(id: &str, counts: &[(String, u64, u64)]) -> ExperimentReport {
    let arms: Vec<ArmResult> = counts
        .iter()
        .map(|(arm, leads, conversions)| {
            let (ci_low, ci_high) = wilson(*conversions, *leads);
            ArmResult {
                arm: arm.clone(),
                leads: *leads,
                conversions: *conversions,
                rate: rate(*conversions, *leads),
                ci_low,
                ci_high,
            }
        })
        .collect();
    let tests = match arms.split_first() {
        Some((control, rest)) => rest.iter().map(|t| test(control, t)).collect(),
        None => Vec::new(),
    };
    ExperimentReport {
        id: id.to_owned(),
        arms,
        tests,
    }
}

fn rate(x: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { x as f64 / n as f64 }
}

fn test(control: &ArmResult, arm: &ArmResult) -> ArmTest {
    let zp = two_proportion_z(
        control.conversions,
        control.leads,
        arm.conversions,
        arm.leads,
    );
    let difference = arm.rate - control.rate;
    let significant = zp.is_some_and(|(_, p)| p < 0.05);
    let needed = leads_needed(control.rate, arm.rate);
    let pct = |r: f64| format!("{:.1}%", 100.0 * r);
    let verdict = match zp {
        None => format!(
            "not enough data: `{}` has {} leads, `{}` has {}",
            arm.arm, arm.leads, control.arm, control.leads
        ),
        Some((_, p)) if significant => format!(
            "`{}` converts {} than `{}` ({} vs {}, p = {p:.4}): the difference is significant at 5%",
            arm.arm,
            if difference > 0.0 { "better" } else { "worse" },
            control.arm,
            pct(arm.rate),
            pct(control.rate),
        ),
        Some((_, p)) => format!(
            "no significant difference yet between `{}` and `{}` ({} vs {}, p = {p:.3}){}",
            arm.arm,
            control.arm,
            pct(arm.rate),
            pct(control.rate),
            needed.map_or_else(String::new, |n| format!(
                "; about {n} leads per arm would detect a difference this size"
            )),
        ),
    };
    ArmTest {
        arm: arm.arm.clone(),
        control: control.arm.clone(),
        difference,
        z: zp.map(|(z, _)| z),
        p_value: zp.map(|(_, p)| p),
        significant,
        leads_needed_per_arm: needed,
        verdict,
    }
}

/// The 95 % Wilson score interval of `x` successes in `n` trials; `(0, 1)` with no trials.
pub fn wilson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, x as f64 / n as f64, Z_95);
    let denom = 1.0 + z * z / n;
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (
        ((centre - half) / denom).max(0.0),
        ((centre + half) / denom).min(1.0),
    )
}

/// The pooled two-proportion z-test of arm 2 against arm 1: `(z, two-sided p)`, or `None` when
/// undefined (an empty arm, or every lead converted or none did).
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<(f64, f64)> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se == 0.0 || !se.is_finite() {
        return None;
    }
    let z = (x2 as f64 / n2f - x1 as f64 / n1f) / se;
    Some((z, erfc(z.abs() / std::f64::consts::SQRT_2)))
}

/// Leads per arm to detect a change from rate `p1` to `p2` with 80 % power at 5 % (two-sided).
pub fn leads_needed(p1: f64, p2: f64) -> Option<u64> {
    let d = (p2 - p1).abs();
    if d < 1e-12 {
        return None;
    }
    let pbar = (p1 + p2) / 2.0;
    let a = Z_95 * (2.0 * pbar * (1.0 - pbar)).sqrt();
    let b = Z_80 * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    Some(((a + b).powi(2) / (d * d)).ceil() as u64)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn wilson_matches_newcombe_1998() {
        // Newcombe (1998), Statistics in Medicine 17:857, example 81/263: 0.2553 to 0.3662.
        let (lo, hi) = wilson(81, 263);
        assert!(
            (lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5,
            "{lo} {hi}"
        );
        // 0 of 10: 0 to 0.2775.
        let (lo, hi) = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 5e-5, "{hi}");
    }

    #[test]
    fn z_test_matches_textbook_values() {
        // Agresti, Categorical Data Analysis: the Physicians' Health Study, heart attacks with
        // placebo 189/11034 vs aspirin 104/11037: z = -5.00.
        let (z, p) = two_proportion_z(189, 11034, 104, 11037).expect("defined");
        assert!((z + 5.0014).abs() < 1e-3, "{z}");
        assert!(close(p, 5.6919e-7, 1e-3), "{p}");
        // 200/1000 vs 250/1000: z = 2.677, p = 0.00742.
        let (z, p) = two_proportion_z(200, 1000, 250, 1000).expect("defined");
        assert!(
            (z - 2.6774).abs() < 1e-3 && close(p, 0.0074196, 1e-4),
            "{z} {p}"
        );
        // 10/100 vs 12/100: p = 0.651, not significant.
        let (_, p) = two_proportion_z(10, 100, 12, 100).expect("defined");
        assert!(close(p, 0.65128, 1e-4), "{p}");
        assert_eq!(two_proportion_z(0, 10, 0, 10), None, "no variance");
        assert_eq!(two_proportion_z(1, 0, 1, 10), None, "empty arm");
    }

    #[test]
    fn erfc_is_accurate() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (-1.0, 1.842_700_792_949_715),
        ] {
            assert!(close(erfc(x), want, 2e-7), "erfc({x}) = {}", erfc(x));
        }
    }

    #[test]
    fn sample_size_for_80_percent_power() {
        // 20% vs 25%: about 1,094 per arm (Fleiss without continuity correction).
        let n = leads_needed(0.20, 0.25).expect("defined");
        assert!((1090..=1100).contains(&n), "{n}");
    }

    #[test]
    fn verdicts_in_words() {
        let r = report(
            "exp",
            &[("control".into(), 1000, 200), ("fast".into(), 1000, 250)],
        );
        assert!(r.tests[0].significant);
        assert!(
            r.tests[0]
                .verdict
                .contains("`fast` converts better than `control`")
        );
        let r = report("exp", &[("a".into(), 100, 10), ("b".into(), 100, 12)]);
        assert!(!r.tests[0].significant);
        assert!(r.tests[0].verdict.contains("no significant difference yet"));
        assert!(r.tests[0].verdict.contains("leads per arm"));
        let r = report("exp", &[("a".into(), 0, 0), ("b".into(), 5, 1)]);
        assert!(r.tests[0].verdict.starts_with("not enough data"));
    }
}
