//! The saved session: one token per server in a 0600 file under the user's config dir.

use std::io::Write;
use std::path::PathBuf;

fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("papertwap"))
}

pub(crate) fn save_token(server: &str, token: &str) -> std::io::Result<PathBuf> {
    let dir = config_dir().ok_or_else(|| std::io::Error::other("no HOME or XDG_CONFIG_HOME"))?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("token.json");
    let body = serde_json::json!({"server": server, "token": token}).to_string();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path)?;
    f.write_all(body.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(path)
}

pub(crate) fn load_token(server: &str) -> Option<String> {
    if let Ok(t) = std::env::var("PAPERTWAP_TOKEN") {
        return Some(t);
    }
    let text = std::fs::read_to_string(config_dir()?.join("token.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    (v["server"].as_str() == Some(server)).then(|| v["token"].as_str().map(str::to_owned))?
}
