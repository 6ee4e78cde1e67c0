//! Scores for the audit: ROC AUC, PSNR and SSIM.

use amalgam_core::data::ImageSet;

/// Area under the ROC curve of `scores` (higher = positive) against `positive`, by the
/// Mann-Whitney U statistic with tied scores sharing their mean rank. 0.5 when one class is
/// empty.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut start) = (0.0f64, 0);
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += rank * order[start..=end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end + 1;
    }
    let p = positive.iter().filter(|&&x| x).count() as f64;
    let n = positive.len() as f64 - p;
    if p == 0.0 || n == 0.0 {
        return 0.5;
    }
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

/// Best balanced accuracy `(TPR + TNR) / 2` over all thresholds on `scores`.
pub fn best_balanced_accuracy(scores: &[f32], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let p = positive.iter().filter(|&&x| x).count().max(1) as f64;
    let n = (positive.len() as f64 - p).max(1.0);
    let (mut tp, mut fp, mut best) = (0.0, 0.0, 0.5f64);
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_tie = k + 1 == order.len() || scores[order[k + 1]] != scores[i];
        if last_of_tie {
            best = best.max((tp / p + (1.0 - fp / n)) / 2.0);
        }
    }
    best
}

/// PSNR cap in dB, reported for identical images (infinite PSNR).
pub const PSNR_CAP_DB: f64 = 100.0;

/// Peak signal-to-noise ratio of `estimate` against `truth` (values in [0, 1]), in dB,
/// over all values; [`PSNR_CAP_DB`] when they are equal.
pub fn psnr(truth: &ImageSet, estimate: &ImageSet) -> f64 {
    let mse = truth
        .images
        .iter()
        .zip(&estimate.images)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / truth.images.len().max(1) as f64;
    if mse == 0.0 {
        PSNR_CAP_DB
    } else {
        (10.0 * (1.0 / mse).log10()).min(PSNR_CAP_DB)
    }
}

/// Mean structural similarity (Wang et al. 2004) of `estimate` against `truth`, over every
/// sample and channel: 7x7 uniform windows (smaller for smaller images), data range 1,
/// `C1 = 0.01^2`, `C2 = 0.03^2`, sample covariances (as scikit-image's default).
pub fn ssim(truth: &ImageSet, estimate: &ImageSet) -> f64 {
    let (h, w) = (truth.shape.height, truth.shape.width);
    let win = 7.min(h).min(w);
    let (c1, c2) = (1e-4, 9e-4);
    let np = (win * win) as f64;
    let (mut total, mut count) = (0.0, 0usize);
    let channels = truth
        .images
        .chunks_exact(h * w)
        .zip(estimate.images.chunks_exact(h * w));
    for (x, y) in channels {
        for r in 0..=h - win {
            for c in 0..=w - win {
                let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for rr in r..r + win {
                    for cc in c..c + win {
                        let (a, b) = (f64::from(x[rr * w + cc]), f64::from(y[rr * w + cc]));
                        sx += a;
                        sy += b;
                        sxx += a * a;
                        syy += b * b;
                        sxy += a * b;
                    }
                }
                let (mx, my) = (sx / np, sy / np);
                let norm = if np > 1.0 { np / (np - 1.0) } else { 1.0 };
                let vx = (sxx / np - mx * mx) * norm;
                let vy = (syy / np - my * my) * norm;
                let cov = (sxy / np - mx * my) * norm;
                total += ((2.0 * mx * my + c1) * (2.0 * cov + c2))
                    / ((mx * mx + my * my + c1) * (vx + vy + c2));
                count += 1;
            }
        }
    }
    total / count.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::model::ImageShape;

    #[test]
    fn auc_of_perfect_inverted_and_uninformative_scores() {
        let positive = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &positive), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &positive), 0.0);
        assert_eq!(roc_auc(&[0.5; 4], &positive), 0.5);
        assert_eq!(roc_auc(&[0.1, 0.5, 0.5, 0.9], &positive), 0.875);
        assert_eq!(
            best_balanced_accuracy(&[0.1, 0.2, 0.8, 0.9], &positive),
            1.0
        );
    }

    #[test]
    fn psnr_and_ssim_of_identical_and_different_images() {
        let shape = ImageShape {
            channels: 1,
            height: 8,
            width: 8,
        };
        let a = ImageSet::new(shape, (0..64).map(|i| i as f32 / 64.0).collect(), vec![0]).unwrap();
        let mut b = a.clone();
        assert_eq!(psnr(&a, &b), PSNR_CAP_DB);
        assert!((ssim(&a, &b) - 1.0).abs() < 1e-9);
        b.images.iter_mut().for_each(|v| *v += 0.1);
        assert!((psnr(&a, &b) - 20.0).abs() < 1e-4, "MSE 0.01 is 20 dB");
        let c = ImageSet::new(
            shape,
            (0..64).map(|i| ((i * 37) % 64) as f32 / 64.0).collect(),
            vec![0],
        )
        .unwrap();
        assert!(ssim(&a, &c) < 0.5);
    }
}
