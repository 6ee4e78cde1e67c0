//! BENCHMARKS.md from the measurements.

use std::fmt::Write;

use serde::Deserialize;

use crate::Measurements;
use crate::training::{Model, StepTime};

/// Milliseconds per Fashion-MNIST sample of the authors' Python prototype at amount 0.25,
/// measured on this machine (given in issue 5).
const PROTOTYPE_MS_PER_SAMPLE: f64 = 16.2;

/// What bench/pytorch_baseline.py writes.
#[derive(Deserialize)]
pub struct PytorchResults {
    /// `torch.__version__`.
    pub torch_version: String,
    /// `torch.get_num_threads()`.
    pub threads: usize,
    /// One row per model and batch.
    pub results: Vec<PytorchRow>,
}

/// PyTorch training throughput of one setting.
#[derive(Deserialize)]
pub struct PytorchRow {
    /// The model.
    pub model: Model,
    /// Samples per batch.
    pub batch: usize,
    /// Median training images per second.
    pub images_per_second: f64,
}

/// What bench/memory.sh writes.
#[derive(Deserialize)]
pub struct MemoryResults {
    /// One row per data set size.
    pub rows: Vec<MemoryRow>,
}

/// Peak memory of one `amalgam augment` run.
#[derive(Deserialize)]
pub struct MemoryRow {
    /// Training samples.
    pub samples: usize,
    /// Bytes of the bundle's data file.
    pub bundle_bytes: u64,
    /// Peak resident set size in KiB (`/usr/bin/time -v`).
    pub peak_rss_kib: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

fn find(
    steps: &[StepTime],
    model: Model,
    batch: usize,
    amount: Option<f64>,
    decoys: usize,
) -> Option<f64> {
    steps
        .iter()
        .find(|s| s.model == model && s.batch == batch && s.amount == amount && s.decoys == decoys)
        .map(|s| s.seconds_per_step)
}

/// The whole report.
pub fn markdown(
    m: &Measurements,
    pytorch: Option<&PytorchResults>,
    memory: Option<&MemoryResults>,
    machine: &str,
    command: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Produced by `{command}` (do not edit by hand). Machine: {machine}. Rayon threads: {}. \
         Every time is the median of several repetitions taken in the same run.\n",
        m.threads
    );
    augmentation_table(&mut s, m);
    step_table(&mut s, m);
    throughput_table(&mut s, m, pytorch);
    memory_table(&mut s, memory);
    s
}

fn augmentation_table(s: &mut String, m: &Measurements) {
    let _ = writeln!(s, "## 1. Dataset augmentation against a memory copy\n");
    let _ = writeln!(
        s,
        "Uniform noise, all threads, into a reused output buffer (page faults of fresh memory \
         excluded for both). Bandwidth counts bytes read plus bytes written; the copy moves a \
         buffer the size of the augmented set with all threads. The prototype reference is \
         {PROTOTYPE_MS_PER_SAMPLE} ms per Fashion-MNIST sample at amount 0.25.\n"
    );
    let _ = writeln!(
        s,
        "| shape | amount | augmented | samples | time (s) | samples/s | GB/s | memcpy GB/s | of memcpy | vs prototype |"
    );
    let _ = writeln!(
        s,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in &m.augmentation {
        let prototype = if r.shape == "1x28x28" && r.amount == 0.25 {
            format!(
                "{:.0}x",
                PROTOTYPE_MS_PER_SAMPLE / 1000.0 * r.samples as f64 / r.augment_seconds
            )
        } else {
            "-".into()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.3} | {:.0} | {:.2} | {:.2} | {:.0}% | {prototype} |",
            r.shape,
            r.amount,
            r.augmented,
            r.samples,
            r.augment_seconds,
            r.samples as f64 / r.augment_seconds,
            r.augment_bytes as f64 / r.augment_seconds / 1e9,
            r.memcpy_bytes as f64 / r.memcpy_seconds / 1e9,
            100.0 * r.bandwidth_ratio(),
        );
    }
    let _ = writeln!(s);
}

fn step_table(s: &mut String, m: &Measurements) {
    let _ = writeln!(s, "## 2. The input filter and decoys in training\n");
    let _ = writeln!(
        s,
        "Seconds per training step (batch assembly, forward, backward, Adam update) on \
         synthetic 1x28x28 data, the median of 5 runs with all settings interleaved. \"Filter \
         only\" is the augmented network with no decoy: the real branch behind its input \
         filter, on the augmented data. Ratios are against the plain model on the original \
         data.\n"
    );
    let _ = writeln!(
        s,
        "| model | batch | amount | plain (s/step) | filter only (s/step) | ratio |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- |");
    for model in [Model::Lenet, Model::Resnet20] {
        for batch in [64, 128] {
            let Some(plain) = find(&m.steps, model, batch, None, 0) else {
                continue;
            };
            for amount in [0.25, 1.0] {
                if let Some(filtered) = find(&m.steps, model, batch, Some(amount), 0) {
                    let _ = writeln!(
                        s,
                        "| {model:?} | {batch} | {amount} | {plain:.5} | {filtered:.5} | {:.3}x |",
                        filtered / plain
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "\nWith decoys (clones of the real network), batch 64, amount 0.25:\n"
    );
    let _ = writeln!(
        s,
        "| model | decoys K | s/step | ratio to plain | ideal (K + 1) |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for model in [Model::Lenet, Model::Resnet20] {
        let Some(plain) = find(&m.steps, model, 64, None, 0) else {
            continue;
        };
        for decoys in [1, 3] {
            if let Some(t) = find(&m.steps, model, 64, Some(0.25), decoys) {
                let _ = writeln!(
                    s,
                    "| {model:?} | {decoys} | {t:.5} | {:.2}x | {}x |",
                    t / plain,
                    decoys + 1
                );
            }
        }
    }
    let _ = writeln!(s);
}

fn throughput_table(s: &mut String, m: &Measurements, pytorch: Option<&PytorchResults>) {
    let _ = writeln!(s, "## 3. Training throughput against PyTorch\n");
    match pytorch {
        Some(p) => {
            let _ = writeln!(
                s,
                "Plain training, same shapes, batch and optimizer (Adam); PyTorch {} on CPU with \
                 {} threads (bench/pytorch_baseline.py).\n",
                p.torch_version, p.threads
            );
        }
        None => {
            let _ = writeln!(
                s,
                "PyTorch was not measured in this run (install it with bench/install_torch.sh).\n"
            );
        }
    }
    let _ = writeln!(
        s,
        "| model | batch | amalgam images/s | PyTorch images/s | amalgam / PyTorch |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for step in m.steps.iter().filter(|st| st.amount.is_none()) {
        let ours = step.batch as f64 / step.seconds_per_step;
        let theirs = pytorch.and_then(|p| {
            p.results
                .iter()
                .find(|r| r.model == step.model && r.batch == step.batch)
                .map(|r| r.images_per_second)
        });
        let (theirs_text, ratio) = match theirs {
            Some(t) => (format!("{t:.0}"), format!("{:.2}x", ours / t)),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "| {:?} | {} | {ours:.0} | {theirs_text} | {ratio} |",
            step.model, step.batch
        );
    }
    let _ = writeln!(s);
}

fn memory_table(s: &mut String, memory: Option<&MemoryResults>) {
    let _ = writeln!(s, "## 4. Memory of `amalgam augment`\n");
    let Some(memory) = memory else {
        let _ = writeln!(s, "Not measured in this run.\n");
        return;
    };
    let _ = writeln!(
        s,
        "`amalgam augment --model mlp --amount 1.0` on generated raw IDX files (28x28 -> \
         56x56), by bench/memory.sh. The augmenter reads, augments and writes chunks of 4,096 \
         samples; the cloud trainer maps the data file rather than reading it.\n"
    );
    let _ = writeln!(
        s,
        "| training samples | bundle data (GB) | peak RSS (MiB) | wall time (s) |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for r in &memory.rows {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.0} | {:.1} |",
            r.samples,
            r.bundle_bytes as f64 / 1e9,
            r.peak_rss_kib as f64 / 1024.0,
            r.seconds
        );
    }
    let _ = writeln!(s);
}
