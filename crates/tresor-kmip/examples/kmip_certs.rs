//! Writes development certificates: `kmip_certs DIR` (CA, server, client) or
//! `kmip_certs DIR NAME` (another client certificate from the CA in DIR).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: kmip_certs DIR [NAME]")?);
    match args.next() {
        None => println!("{:#?}", tresor_kmip::certs::init(&dir)?),
        Some(name) => println!("{:#?}", tresor_kmip::certs::client(&dir, &name)?),
    }
    Ok(())
}
