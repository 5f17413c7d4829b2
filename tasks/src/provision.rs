//! `cargo task provision [--check]`: the Ansible deployment to AWS EC2 (`provision/`).
//!
//! `--check` needs no AWS account: it lints the playbook (ansible-lint, production profile),
//! checks its syntax, then runs its AWS part twice against moto, a local AWS API emulator, and
//! checks the instances, security groups, key pair, tags and the load balancer (HTTPS listener,
//! certificate, redirect, target group) it left (`provision/tests/`).
//! Without `--check` it deploys for real, with the AWS credentials and vault password
//! (`ANSIBLE_VAULT_PASSWORD_FILE`) of the environment.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, ensure};

use crate::{process, python, workspace};

const PACKAGES: &[&str] = &[
    "ansible==12.3.0",
    "ansible-lint==26.10.1",
    "boto3==1.44.5",
    "moto[server]==5.2.5",
];

/// The password of the example vault (`provision/group_vars/all/vault.yml`), public on purpose:
/// it guards development values only.
const DEV_VAULT_PASSWORD: &str = "eventpost-development-vault";

pub async fn run(check: bool) -> anyhow::Result<()> {
    let bin = python::venv("provision", PACKAGES)?;
    let dir = workspace::root().join("provision");
    if !check {
        return step(
            "ansible-playbook site.yml",
            Command::new(bin.join("ansible-playbook"))
                .arg("site.yml")
                .current_dir(&dir),
        );
    }
    let vault = workspace::run_dir().join("dev-vault-password");
    std::fs::create_dir_all(workspace::run_dir())?;
    std::fs::write(&vault, DEV_VAULT_PASSWORD)?;
    step(
        "ansible-lint",
        Command::new(bin.join("ansible-lint"))
            .current_dir(&dir)
            .env("ANSIBLE_VAULT_PASSWORD_FILE", &vault),
    )?;
    step(
        "ansible-playbook --syntax-check",
        Command::new(bin.join("ansible-playbook"))
            .args([
                "--syntax-check",
                "site.yml",
                "upgrade.yml",
                "--vault-password-file",
            ])
            .arg(&vault)
            .current_dir(&dir),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut moto = Command::new(bin.join("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto_server")?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let result = emulated_run(&bin, &dir, &endpoint, &vault).await;
    if let Err(err) = moto.kill() {
        eprintln!("stopping moto_server: {err}");
    }
    result
}

async fn emulated_run(bin: &Path, dir: &Path, endpoint: &str, vault: &Path) -> anyhow::Result<()> {
    let log = Path::new("moto_server (stdout discarded)");
    process::wait_until("the AWS emulator", Duration::from_secs(30), log, || async {
        reqwest::get(format!("{endpoint}/moto-api/")).await.is_ok()
    })
    .await?;
    step(
        "the playbook's AWS part against the emulator, twice",
        Command::new(bin.join("python"))
            .arg("tests/check_aws.py")
            .args(["--endpoint", endpoint, "--vault-password-file"])
            .arg(vault)
            .current_dir(dir),
    )
}

fn step(what: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("==> {what}");
    let status = command
        .status()
        .with_context(|| format!("starting {what}"))?;
    ensure!(status.success(), "{what} failed ({status})");
    Ok(())
}
