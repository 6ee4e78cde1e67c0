//! `amalgam extract` (owner side).

use amalgam_owner::extract::extract;
use amalgam_owner::key::SecretKey;
use amalgam_owner::model_dir::write_model_dir;
use anyhow::Result;

use crate::args::ExtractArgs;

pub fn run(args: ExtractArgs) -> Result<()> {
    let key = SecretKey::read(&args.key)?;
    let (spec, weights) = extract(&key, &args.key, &args.trained)?;
    write_model_dir(&args.out, &spec, &weights)?;
    println!(
        "extracted the original model ({} tensors) into {}",
        weights.len(),
        args.out.display()
    );
    Ok(())
}
