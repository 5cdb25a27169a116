//! Generates the two cxx bridges of `libain.a` and their C++ halves:
//! `libmc` (in-process engine calls) and `libain_rpc` (network client calls).

use crate::spec::{FieldType, Message, Spec};
use anyhow::{anyhow, Context, Result};
use std::fmt::Write;
use std::path::Path;

/// Hand-written declarations added to a bridge's `extern "Rust"` block:
/// lifecycle functions and opaque types that are not one-per-rpc.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    pub libmc: String,
    pub libain_rpc: String,
}

/// Writes `libmc.rs` and `libain_rpc.rs` (Rust halves, to `include!`) into
/// `out_dir`, and the C++ halves into `out_dir/include` and `out_dir/src`.
pub fn generate(spec: &Spec, out_dir: &Path, extras: &Extras) -> Result<()> {
    let include = out_dir.join("include");
    let src = out_dir.join("src");
    std::fs::create_dir_all(include.join("rust"))?;
    std::fs::create_dir_all(&src)?;
    std::fs::write(include.join("rust/cxx.h"), cxx_gen::HEADER)?;
    for (name, rust) in [
        ("libmc", libmc_rs(spec, &extras.libmc)?),
        ("libain_rpc", libain_rpc_rs(spec, &extras.libain_rpc)?),
    ] {
        std::fs::write(out_dir.join(format!("{name}.rs")), &rust)?;
        let tokens: proc_macro2::TokenStream = rust
            .parse()
            .map_err(|e| anyhow!("generated {name}.rs does not tokenize: {e}"))?;
        let code = cxx_gen::generate_header_and_cc(tokens, &cxx_gen::Opt::default())
            .map_err(|e| anyhow!("cxx rejected generated {name}.rs: {e}"))?;
        std::fs::write(include.join(format!("{name}.h")), code.header)
            .with_context(|| format!("writing {name}.h"))?;
        let mut cc = format!("#include \"{name}.h\"\n").into_bytes();
        cc.extend_from_slice(&code.implementation);
        std::fs::write(src.join(format!("{name}.cpp")), cc)
            .with_context(|| format!("writing {name}.cpp"))?;
    }
    Ok(())
}

fn cxx_type(ty: &FieldType) -> String {
    match ty {
        FieldType::I64 => "i64".into(),
        FieldType::U64 => "u64".into(),
        FieldType::I32 => "i32".into(),
        FieldType::U32 => "u32".into(),
        FieldType::F64 => "f64".into(),
        FieldType::Bool => "bool".into(),
        FieldType::String => "String".into(),
        FieldType::Bytes => "Vec<u8>".into(),
        FieldType::Message(n) | FieldType::Enum(n) => n.clone(),
    }
}

/// `(input param, input expr)` of a bridge function taking `input`.
fn input_of(spec: &Spec, name: &str) -> Result<(String, String)> {
    let m = spec.message(name)?;
    Ok(if m.fields.is_empty() {
        (String::new(), "Default::default()".into())
    } else {
        (format!("input: &{name}"), "input.clone().into()".into())
    })
}

/// `(bridge return type, Rust return type, binding of the service's answer,
/// what the function returns)` of a bridge function returning `name`; an
/// empty message returns `()`.
fn output_of(spec: &Spec, name: &str) -> Result<(String, String, &'static str, &'static str)> {
    let m = spec.message(name)?;
    Ok(if m.fields.is_empty() {
        ("()".into(), "()".into(), "_", "()")
    } else {
        (
            name.to_string(),
            format!("ffi::{name}"),
            "out",
            "out.into()",
        )
    })
}

fn shared_types(spec: &Spec) -> String {
    let mut o = String::new();
    for e in &spec.enums {
        let _ = writeln!(
            o,
            "    #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n    #[repr(i32)]\n    enum {} {{",
            e.name
        );
        for (v, n) in &e.variants {
            let _ = writeln!(o, "        {v} = {n},");
        }
        let _ = writeln!(o, "    }}\n");
    }
    for m in spec.messages.iter().filter(|m| !m.fields.is_empty()) {
        let _ = writeln!(o, "    #[derive(Debug, Clone)]\n    struct {} {{", m.name);
        for f in &m.fields {
            let ty = cxx_type(&f.ty);
            let ty = if f.repeated { format!("Vec<{ty}>") } else { ty };
            let _ = writeln!(o, "        {}: {ty},", f.name);
        }
        let _ = writeln!(o, "    }}\n");
    }
    o
}

/// `From` both ways between a prost message and its cxx struct.
fn conversions(m: &Message) -> String {
    let prost = format!("ain_rs::{}", m.rust_path());
    let (mut to_cxx, mut to_prost) = (String::new(), String::new());
    for f in &m.fields {
        let n = &f.name;
        let (a, b) = match (&f.ty, f.repeated) {
            (FieldType::Enum(e), false) => {
                (format!("ffi::{e} {{ repr: v.{n} }}"), format!("v.{n}.repr"))
            }
            (FieldType::Enum(e), true) => (
                format!("v.{n}.into_iter().map(|repr| ffi::{e} {{ repr }}).collect()"),
                format!("v.{n}.into_iter().map(|e| e.repr).collect()"),
            ),
            (FieldType::Message(_), false) => (
                format!("v.{n}.unwrap_or_default().into()"),
                format!("Some(v.{n}.into())"),
            ),
            (FieldType::Message(_), true) => (
                format!("v.{n}.into_iter().map(Into::into).collect()"),
                format!("v.{n}.into_iter().map(Into::into).collect()"),
            ),
            _ => (format!("v.{n}"), format!("v.{n}")),
        };
        let _ = writeln!(to_cxx, "            {n}: {a},");
        let _ = writeln!(to_prost, "            {n}: {b},");
    }
    format!(
        "impl From<{prost}> for ffi::{name} {{\n    fn from(v: {prost}) -> Self {{\n        Self {{\n{to_cxx}        }}\n    }}\n}}\n\n\
         impl From<ffi::{name}> for {prost} {{\n    fn from(v: ffi::{name}) -> Self {{\n        Self {{\n{to_prost}        }}\n    }}\n}}\n\n",
        name = m.name
    )
}

/// The in-process bridge: shared structs, conversions, and one function per
/// served rpc dispatching to the engine registered at init.
pub fn libmc_rs(spec: &Spec, extras: &str) -> Result<String> {
    let mut o = String::from(
        "// @generated by ain-codegen from protobuf/. Do not edit.\n\
         // In-process calls into the metachain engine (libmc.h).\n\n\
         #[cxx::bridge(namespace = \"mc\")]\npub mod ffi {\n",
    );
    o.push_str(&shared_types(spec));
    let _ = writeln!(o, "    extern \"Rust\" {{\n{extras}");
    let mut bodies = String::new();
    for (s, m) in spec.methods().filter(|(_, m)| m.server && !m.streaming) {
        let (param, arg) = input_of(spec, &m.input)?;
        let (ret, ret_rs, bind, conv) = output_of(spec, &m.output)?;
        for line in m.doc.lines() {
            let _ = writeln!(o, "        /// {line}");
        }
        let _ = writeln!(o, "        fn {}({param}) -> Result<{ret}>;", m.ffi_name());
        let _ = writeln!(
            bodies,
            "fn {ffi}({param_rs}) -> Result<{ret_rs}, crate::FfiError> {{\n    \
             crate::guard(\"{ffi}\", || {{\n        \
             let {bind} = ain_rs::{svc}Service::{snake}(&*crate::engine()?, {arg})?;\n        \
             Ok({conv})\n    }})\n}}\n",
            ffi = m.ffi_name(),
            param_rs = param.replace('&', "&ffi::"),
            svc = s.name,
            snake = m.snake_name(),
        );
    }
    let _ = writeln!(o, "    }}\n}}\n");
    for m in spec.messages.iter().filter(|m| !m.fields.is_empty()) {
        o.push_str(&conversions(m));
    }
    o.push_str(&bodies);
    Ok(o)
}

/// The network bridge: one `Call<Rpc>` per client rpc over an opaque client.
pub fn libain_rpc_rs(spec: &Spec, extras: &str) -> Result<String> {
    let mut o = String::from(
        "// @generated by ain-codegen from protobuf/. Do not edit.\n\
         // Network calls to a metachain server (libain_rpc.h).\n\n\
         #[cxx::bridge(namespace = \"ain_rpc\")]\n#[allow(non_snake_case)]\npub mod ffi {\n    extern \"C++\" {\n        include!(\"libmc.h\");\n",
    );
    for e in &spec.enums {
        let _ = writeln!(
            o,
            "        #[namespace = \"mc\"]\n        type {0} = crate::libmc::ffi::{0};",
            e.name
        );
    }
    for m in spec.messages.iter().filter(|m| !m.fields.is_empty()) {
        let _ = writeln!(
            o,
            "        #[namespace = \"mc\"]\n        type {0} = crate::libmc::ffi::{0};",
            m.name
        );
    }
    let _ = writeln!(
        o,
        "    }}\n\n    extern \"Rust\" {{\n        /// A connection to a metachain server.\n        type MetaClient;\n{extras}"
    );
    let mut bodies = String::new();
    for (_, m) in spec.methods().filter(|(_, m)| m.client && !m.streaming) {
        let (param, arg) = input_of(spec, &m.input)?;
        let (ret, ret_rs, bind, conv) = output_of(spec, &m.output)?;
        let sep = if param.is_empty() { "" } else { ", " };
        for line in m.doc.lines() {
            let _ = writeln!(o, "        /// {line}");
        }
        let _ = writeln!(
            o,
            "        fn {}(client: &MetaClient{sep}{param}) -> Result<{ret}>;",
            m.call_name()
        );
        let _ = writeln!(
            bodies,
            "#[allow(non_snake_case)]\nfn {call}(client: &MetaClient{sep}{param_rs}) -> Result<{ret_rs}, crate::FfiError> {{\n    \
             crate::guard(\"{call}\", || {{\n        \
             let {bind} = client.block_on(client.client().{snake}({arg}))?;\n        \
             Ok({conv})\n    }})\n}}\n",
            call = m.call_name(),
            param_rs = param.replace('&', "&ffi::"),
            snake = m.snake_name(),
        );
    }
    let _ = writeln!(o, "    }}\n}}\n");
    o.push_str(&bodies);
    Ok(o)
}
