//! `amalgam privynet extract` (owner).

use amalgam_owner::model_dir::write_model_dir;
use amalgam_owner::privynet::{PrivynetKey, extract};
use anyhow::Result;

use super::args::PrivynetExtractArgs;

pub fn run(args: PrivynetExtractArgs) -> Result<()> {
    let (key, local_weights) = PrivynetKey::read(&args.key)?;
    let (spec, weights) = extract(&key, &local_weights, &args.key, &args.trained)?;
    write_model_dir(&args.out, &spec, &weights)?;
    println!(
        "composed the trained model ({} tensors) into {}",
        weights.len(),
        args.out.display()
    );
    Ok(())
}
