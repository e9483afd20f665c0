//! The fairness post-check: exposure of groups in shown lists against their share.

/// Exposure of groups in the shown lists against their share of the candidates: the fairness
/// post-check. Position `i` of a list carries the DCG weight `1 / log2(i + 2)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExposureReport {
    /// Per group: (group, share of the population, share of the exposure).
    pub groups: Vec<(String, f64, f64)>,
    /// The smallest ratio of exposure share to population share over the groups (1 is
    /// exactly proportional).
    pub min_ratio: f64,
}

impl ExposureReport {
    /// The report for `lists` of people, with `group_of(person)` naming each person's group
    /// and `population` the group of every candidate.
    pub fn of<'a>(
        lists: impl Iterator<Item = &'a [usize]>,
        population: impl Iterator<Item = String>,
        group_of: impl Fn(usize) -> String,
    ) -> Self {
        use std::collections::BTreeMap;
        let mut members: BTreeMap<String, f64> = BTreeMap::new();
        for group in population {
            *members.entry(group).or_default() += 1.0;
        }
        let mut exposure: BTreeMap<String, f64> = BTreeMap::new();
        for list in lists {
            for (i, &person) in list.iter().enumerate() {
                *exposure.entry(group_of(person)).or_default() += 1.0 / ((i + 2) as f64).log2();
            }
        }
        let total_members: f64 = members.values().sum::<f64>().max(1.0);
        let total_exposure: f64 = exposure.values().sum::<f64>().max(f64::MIN_POSITIVE);
        let groups: Vec<(String, f64, f64)> = members
            .iter()
            .map(|(g, m)| {
                (
                    g.clone(),
                    m / total_members,
                    exposure.get(g).copied().unwrap_or(0.0) / total_exposure,
                )
            })
            .collect();
        let min_ratio = groups
            .iter()
            .filter(|(_, share, _)| *share > 0.0)
            .map(|(_, share, exposed)| exposed / share)
            .fold(f64::INFINITY, f64::min);
        Self {
            groups,
            min_ratio: if min_ratio.is_finite() {
                min_ratio
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_of_a_known_list() {
        let lists = [vec![0usize, 1], vec![0, 2]];
        let report = ExposureReport::of(
            lists.iter().map(Vec::as_slice),
            ["a", "a", "b", "b"].into_iter().map(String::from),
            |p| if p < 2 { "a" } else { "b" }.to_owned(),
        );
        let w1 = 1.0 / 3f64.log2();
        let total = 2.0 + 2.0 * w1;
        assert_eq!(report.groups[0].0, "a");
        assert!((report.groups[0].2 - (2.0 + w1) / total).abs() < 1e-12);
        assert!((report.min_ratio - (w1 / total) / 0.5).abs() < 1e-12);
    }
}
