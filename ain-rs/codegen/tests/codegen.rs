//! The codegen contract: one rpc added to the .proto shows up in every output
//! (trait, tonic, jsonrpsee, client, cxx structs, libmc.h, libain_rpc.h), and
//! bad specs get clear errors.

use ain_codegen::{cxx, rust, Spec};
use std::path::{Path, PathBuf};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protobuf")
}

/// Copies the real spec into a temp dir, appending `extra_types` to the
/// messages file and `extra_rpcs` to the service.
fn spec_with(extra_types: &str, extra_rpcs: &str) -> tempfile::TempDir {
    spec_edited(|text| {
        if let Some(end) = text.rfind('}').filter(|_| text.contains("\nservice ")) {
            text.insert_str(end, extra_rpcs);
        } else {
            text.push_str(extra_types);
        }
    })
}

/// Copies the real spec into a temp dir, passing each file through `edit`.
fn spec_edited(edit: impl Fn(&mut String)) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path, edit: &dyn Fn(&mut String)) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let p = entry.unwrap().path();
            let dest = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &dest, edit);
            } else {
                let mut text = std::fs::read_to_string(&p).unwrap();
                edit(&mut text);
                std::fs::write(dest, text).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&spec_dir(), dir.path(), &edit);
    dir
}

fn parses_as_rust(code: &str) {
    syn::parse_file(code).unwrap_or_else(|e| panic!("generated code does not parse: {e}\n{code}"));
}

const PING_TYPES: &str = "\nmessage MetaPingInput { string nonce = 1; }\nmessage MetaPingResult { string echo = 1; uint64 height = 2; }\n";
const PING_RPC: &str = "  // [rpc: metaTest_ping]\n  // Echoes a nonce.\n  rpc MetaPing(metachain.types.v1.MetaPingInput) returns (metachain.types.v1.MetaPingResult);\n";

#[test]
fn the_real_spec_has_every_required_rpc() {
    let spec = Spec::load(&spec_dir()).unwrap();
    let names: Vec<&str> = spec.methods().map(|(_, m)| m.name.as_str()).collect();
    for required in [
        "MetaMintBlock",
        "MetaConnectBlock",
        "MetaDisconnectBlock",
        "MetaGetTip",
        "MetaGetBalance",
        "MetaGetBlock",
        "MetaSendTransaction",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    let mint = spec
        .methods()
        .find(|(_, m)| m.name == "MetaMintBlock")
        .unwrap()
        .1;
    assert_eq!(mint.rpc_name, "metaConsensusRpc_mintBlock");
    assert_eq!(mint.ffi_name(), "mint_block");
    assert_eq!(mint.call_name(), "CallMetaMintBlock");
}

#[test]
fn adding_an_rpc_to_the_proto_is_the_only_step() {
    let dir = spec_with(PING_TYPES, PING_RPC);
    let spec = Spec::load(dir.path()).unwrap();
    let out = tempfile::tempdir().unwrap();

    // a + c: prost/serde messages and the tonic server and client.
    rust::generate(&spec, out.path()).unwrap();
    let types = std::fs::read_to_string(out.path().join("metachain.types.v1.rs")).unwrap();
    assert!(types.contains("pub struct MetaPingInput"));
    assert!(types.contains("serde::Serialize"));
    let tonic = std::fs::read_to_string(out.path().join("metachain.rpc.v1.rs")).unwrap();
    assert!(tonic.contains("/metachain.rpc.v1.Metachain/MetaPing"));
    assert!(tonic.contains("pub async fn meta_ping"));

    // b + c + d: the trait, the gRPC adapter, the JSON-RPC module and client.
    let service = std::fs::read_to_string(out.path().join(rust::SERVICE_FILE)).unwrap();
    parses_as_rust(&service);
    assert!(service.contains("fn meta_ping(&self, input: crate::types::MetaPingInput)"));
    assert!(service.contains("svc.meta_ping(input)"));
    assert!(service.contains("register_async_method(\"metaTest_ping\""));
    assert!(service.contains("pub async fn meta_ping(&self"));
    assert!(service.contains("/// Echoes a nonce."));
    assert!(service.contains("\"x-grpc\":\"/metachain.rpc.v1.Metachain/MetaPing\""));
    // The dotted packages are also reachable by their short names.
    assert!(service.contains("pub use self::metachain::types::v1 as types;"));
    assert!(service.contains("pub use self::metachain::rpc::v1 as rpc;"));
    assert!(service.contains("crate::rpc::metachain_server::Metachain for MetachainGrpc<T>"));

    // e + f: cxx structs, conversions, libmc.h and libain_rpc.h functions.
    cxx::generate(&spec, out.path(), &cxx::Extras::default()).unwrap();
    let libmc_rs = std::fs::read_to_string(out.path().join("libmc.rs")).unwrap();
    parses_as_rust(&libmc_rs);
    assert!(libmc_rs.contains("impl From<ain_rs::types::MetaPingResult> for ffi::MetaPingResult"));
    assert!(libmc_rs.contains("impl From<ffi::MetaPingInput> for ain_rs::types::MetaPingInput"));
    let libmc_h = std::fs::read_to_string(out.path().join("include/libmc.h")).unwrap();
    assert!(libmc_h.contains("struct MetaPingInput final"));
    assert!(libmc_h.contains("::mc::MetaPingResult ping(::mc::MetaPingInput const &input);"));
    let rpc_h = std::fs::read_to_string(out.path().join("include/libain_rpc.h")).unwrap();
    assert!(rpc_h.contains(
        "CallMetaPing(::ain_rpc::MetaClient const &client, ::mc::MetaPingInput const &input)"
    ));
    parses_as_rust(&std::fs::read_to_string(out.path().join("libain_rpc.rs")).unwrap());
    assert!(out.path().join("src/libmc.cpp").exists());
    assert!(out.path().join("include/rust/cxx.h").exists());
}

#[test]
fn auth_and_streaming_rpcs_are_generated_everywhere_they_belong() {
    let types = "\nmessage MetaTickInput {}\nmessage MetaTick { uint64 n = 1; }\n";
    let rpcs = "  // [rpc: metaTest_secret] [auth]\n  rpc MetaSecret(metachain.types.v1.MetaPingInput) returns (metachain.types.v1.MetaPingResult);\n\
                // [rpc: metaSubscribe_ticks]\n  rpc MetaTicks(metachain.types.v1.MetaTickInput) returns (stream metachain.types.v1.MetaTick);\n";
    let dir = spec_with(&format!("{PING_TYPES}{types}"), rpcs);
    let spec = Spec::load(dir.path()).unwrap();
    let service = rust::service_rs(&spec);
    parses_as_rust(&service);
    // [auth]: both servers check credentials for it, and only for it.
    assert!(service.contains("self.opts.check_grpc(\"MetaSecret\""));
    assert!(service.contains("o.check_jsonrpc(\"MetaSecret\""));
    assert!(!service.contains("check_grpc(\"MetaGetTip\""));
    // A stream: trait, gRPC stream type, JSON-RPC subscription, client.
    assert!(service.contains("fn meta_ticks(&self, input: crate::types::MetaTickInput) -> Result<crate::Subscription<crate::types::MetaTick>"));
    assert!(service
        .contains("type MetaTicksStream = crate::grpc::EventStream<crate::types::MetaTick>;"));
    assert!(service.contains("register_subscription(\"metaSubscribe_ticks\", \"metaSubscription_ticks\", \"metaUnsubscribe_ticks\""));
    assert!(service.contains("-> Result<crate::client::EventStream<crate::types::MetaTick>"));
    // ... and no FFI function.
    assert!(!cxx::libmc_rs(&spec, "").unwrap().contains("fn ticks("));
    assert!(!cxx::libain_rpc_rs(&spec, "")
        .unwrap()
        .contains("CallMetaTicks"));
    // rpc.discover describes both.
    assert!(service.contains("\"x-control\":true"));
    assert!(service.contains("metaUnsubscribe_ticks"));

    let e = load_err(types, "  // [rpc: meta_ticks]\n  rpc MetaT(metachain.types.v1.MetaTickInput) returns (stream metachain.types.v1.MetaTick);\n");
    assert!(e.contains("must contain \"Subscribe\""), "{e}");
    let e = load_err(types, "  // [rpc: metaSubscribe_t] [inline]\n  rpc MetaT(metachain.types.v1.MetaTickInput) returns (stream metachain.types.v1.MetaTick);\n");
    assert!(e.contains("cannot be [inline]"), "{e}");
}

#[test]
fn inline_rpcs_skip_the_blocking_pool_on_both_servers() {
    let rpcs = "  // [rpc: metaTest_quick] [inline]\n  rpc MetaQuick(metachain.types.v1.MetaPingInput) returns (metachain.types.v1.MetaPingResult);\n";
    let dir = spec_with(PING_TYPES, rpcs);
    let service = rust::service_rs(&Spec::load(dir.path()).unwrap());
    parses_as_rust(&service);
    assert!(service.contains("crate::grpc::serve_inline(|| self.svc.meta_quick(input))"));
    assert!(service.contains("crate::jsonrpc::serve_inline(move || s.meta_quick(input))"));
    // Everything else still goes to the blocking pool.
    assert!(service.contains(
        "crate::grpc::serve_blocking(self.opts.call_timeout, move || svc.meta_mint_block(input))"
    ));
    assert!(!service.contains("serve_inline(|| self.svc.meta_mint_block"));
}

#[test]
fn client_server_and_ignore_annotations_restrict_generation() {
    let rpcs = "  // [rpc: metaTest_clientOnly] [client]\n  rpc MetaClientOnly(metachain.types.v1.MetaGetTipInput) returns (metachain.types.v1.MetaGetTipResult);\n\
                // [rpc: metaTest_serverOnly] [server]\n  rpc MetaServerOnly(metachain.types.v1.MetaGetTipInput) returns (metachain.types.v1.MetaGetTipResult);\n\
                // [rpc: metaTest_ignored] [ignore]\n  rpc MetaIgnored(metachain.types.v1.MetaGetTipInput) returns (metachain.types.v1.MetaGetTipResult);\n";
    let dir = spec_with("", rpcs);
    let spec = Spec::load(dir.path()).unwrap();
    let service = rust::service_rs(&spec);
    let libmc = cxx::libmc_rs(&spec, "").unwrap();
    let rpc = cxx::libain_rpc_rs(&spec, "").unwrap();
    let trait_start = service.find("pub trait").unwrap();
    let trait_body =
        &service[trait_start..trait_start + service[trait_start..].find("\n}").unwrap()];

    // [client]: a client and a network call, no trait method nor in-process call.
    assert!(!trait_body.contains("fn meta_client_only("));
    assert!(service.contains("pub async fn meta_client_only(&self"));
    assert!(service.contains("MetaClientOnly is client-only"));
    assert!(rpc.contains("fn CallMetaClientOnly("));
    assert!(!libmc.contains("fn client_only("));

    // [server]: a trait method, servers and in-process call, no client.
    assert!(trait_body.contains("fn meta_server_only("));
    assert!(service.contains("\"metaTest_serverOnly\""));
    assert!(!service.contains("pub async fn meta_server_only(&self"));
    assert!(libmc.contains("fn server_only("));
    assert!(!rpc.contains("CallMetaServerOnly"));

    // [ignore]: nothing at all.
    for code in [&service, &libmc, &rpc] {
        assert!(
            !code.to_lowercase().contains("ignored"),
            "ignored rpc leaked"
        );
    }
}

fn load_err(types: &str, rpcs: &str) -> String {
    let dir = spec_with(types, rpcs);
    format!("{:#}", Spec::load(dir.path()).unwrap_err())
}

#[test]
fn bad_specs_get_clear_errors() {
    let empty = tempfile::tempdir().unwrap();
    let e = format!("{:#}", Spec::load(empty.path()).unwrap_err());
    assert!(e.contains("contains no .proto files"), "{e}");

    let e = format!(
        "{:#}",
        Spec::load(Path::new("/nonexistent/spec")).unwrap_err()
    );
    assert!(e.contains("/nonexistent/spec"), "{e}");

    let e = load_err(
        "",
        "  rpc MetaNoName(metachain.types.v1.MetaGetTipInput) returns (metachain.types.v1.MetaGetTipResult);\n",
    );
    assert!(e.contains("missing [rpc: name]"), "{e}");

    let e = load_err("", "  // [rpc: x] [bogus]\n  rpc MetaX(metachain.types.v1.MetaGetTipInput) returns (metachain.types.v1.MetaGetTipResult);\n");
    assert!(e.contains("unknown annotation [bogus]"), "{e}");

    let e = load_err("", "  // [rpc: meta_getTip]\n  rpc MetaTwice(metachain.types.v1.MetaGetTipInput) returns (metachain.types.v1.MetaGetTipResult);\n");
    assert!(e.contains("used twice"), "{e}");

    let e = load_err(
        "\nmessage Bad { oneof x { string a = 1; int64 b = 2; } }\n",
        "",
    );
    assert!(e.contains("oneof"), "{e}");

    let e = load_err("\nmessage Bad { repeated bytes blobs = 1; }\n", "");
    assert!(e.contains("repeated bytes"), "{e}");

    let e = load_err("\nmessage Broken { string a = 1 }\n", "");
    assert!(e.contains("compiling"), "{e}");
}

/// The real spec with the messages' package renamed to `package`.
fn types_package_err(package: &str) -> String {
    let dir = spec_edited(|text| {
        *text = text
            .replace(
                "package metachain.types.v1;",
                &format!("package {package};"),
            )
            .replace("metachain.types.v1.", &format!("{package}."));
    });
    format!("{:#}", Spec::load(dir.path()).unwrap_err())
}

#[test]
fn packages_are_dotted_identifiers_with_distinct_short_names() {
    let spec = Spec::load(&spec_dir()).unwrap();
    let packages: Vec<&str> = spec.packages().into_iter().collect();
    assert_eq!(packages, ["metachain.rpc.v1", "metachain.types.v1"]);
    let tip = spec.message("MetaGetTipResult").unwrap();
    assert_eq!(tip.rust_path(), "types::MetaGetTipResult");
    assert_eq!(
        ain_codegen::spec::short_module("metachain.types.v1beta1"),
        "types"
    );
    assert_eq!(ain_codegen::spec::short_module("metachain.types"), "types");
    assert_eq!(ain_codegen::spec::short_module("types"), "types");
    assert_eq!(
        ain_codegen::spec::rust_module("metachain.types.v1"),
        "metachain::types::v1"
    );

    for bad in ["metachain.Types.v1", "metachain.type.v1"] {
        let e = types_package_err(bad);
        assert!(
            e.contains("dot-separated lowercase identifiers"),
            "{bad}: {e}"
        );
    }
    // `metachain.v1` would be re-exported as `metachain`, the root module of
    // `metachain.rpc.v1`.
    let e = types_package_err("metachain.v1");
    assert!(e.contains("first component"), "{e}");
    let e = types_package_err("other.rpc.v2");
    assert!(e.contains("short module name rpc"), "{e}");
}
