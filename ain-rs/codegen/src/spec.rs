//! The spec model: what the generators need from `protobuf/`, read from the
//! descriptor set that protox compiles (no system `protoc`).

use anyhow::{anyhow, bail, Context, Result};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::FileDescriptorSet;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Everything generated code is made from.
#[derive(Debug, Clone)]
pub struct Spec {
    pub messages: Vec<Message>,
    pub enums: Vec<Enum>,
    pub services: Vec<Service>,
    /// The compiled descriptors, handed to prost/tonic for the message types.
    pub fds: FileDescriptorSet,
    /// Every .proto file read, for `rerun-if-changed`.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Message {
    /// Proto name, also the Rust and C++ type name (`MetaMintBlockInput`).
    pub name: String,
    /// Proto package (`metachain.types.v1`); prost nests the type in the
    /// module of that path, re-exported under [`short_module`] (`types`).
    pub package: String,
    pub fields: Vec<Field>,
}

impl Message {
    /// Path of the prost type from the root of the `ain-rs` crate, through
    /// its package's short module (`types::MetaMintBlockInput`).
    pub fn rust_path(&self) -> String {
        format!("{}::{}", short_module(&self.package), self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub repeated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    I64,
    U64,
    I32,
    U32,
    F64,
    Bool,
    String,
    Bytes,
    /// Name of a message in the spec.
    Message(String),
    /// Name of an enum in the spec.
    Enum(String),
}

#[derive(Debug, Clone)]
pub struct Enum {
    pub name: String,
    pub package: String,
    /// (CamelCase variant name as prost spells it, value).
    pub variants: Vec<(String, i32)>,
}

#[derive(Debug, Clone)]
pub struct Service {
    /// `Metachain`
    pub name: String,
    pub package: String,
    pub methods: Vec<Method>,
}

#[derive(Debug, Clone)]
pub struct Method {
    /// Proto name, `MetaMintBlock`.
    pub name: String,
    /// JSON-RPC method name from `[rpc: ...]`.
    pub rpc_name: String,
    /// Message names.
    pub input: String,
    pub output: String,
    /// Generate the server side (trait method, servers, in-process FFI).
    pub server: bool,
    /// Generate the client side (gRPC/JSON-RPC client, network FFI).
    pub client: bool,
    /// A control rpc: servers require a JWT (`[auth]`).
    pub auth: bool,
    /// A cheap call (`[inline]`): servers run it on the async worker instead
    /// of handing it to the blocking pool, which saves a thread hop.
    pub inline: bool,
    /// A server-streaming rpc: a gRPC stream and a JSON-RPC subscription.
    /// Streams have no FFI function.
    pub streaming: bool,
    /// The comment without its annotations.
    pub doc: String,
}

impl Method {
    /// `meta_mint_block`: trait, tonic and client method name.
    pub fn snake_name(&self) -> String {
        snake_case(&self.name)
    }

    /// `mint_block`: the in-process FFI name in libmc.h.
    pub fn ffi_name(&self) -> String {
        snake_case(self.name.strip_prefix("Meta").unwrap_or(&self.name))
    }

    /// `CallMetaMintBlock`: the network FFI name in libain_rpc.h.
    pub fn call_name(&self) -> String {
        format!("Call{}", self.name)
    }

    /// For a stream, the JSON-RPC (notification, unsubscribe) names derived
    /// from `metaSubscribe_x`: `metaSubscription_x`, `metaUnsubscribe_x`.
    pub fn subscription_names(&self) -> (String, String) {
        (
            self.rpc_name.replacen("Subscribe", "Subscription", 1),
            self.rpc_name.replacen("Subscribe", "Unsubscribe", 1),
        )
    }
}

impl Spec {
    /// Compiles every `.proto` under `dir` and reads the model out of it.
    pub fn load(dir: &Path) -> Result<Spec> {
        let mut files = Vec::new();
        collect_protos(dir, &mut files)
            .with_context(|| format!("reading spec directory {}", dir.display()))?;
        if files.is_empty() {
            bail!("spec directory {} contains no .proto files", dir.display());
        }
        files.sort();
        let relative: Vec<PathBuf> = files
            .iter()
            .map(|f| f.strip_prefix(dir).map(Path::to_path_buf))
            .collect::<Result<_, _>>()?;
        let mut compiler = protox::Compiler::new([dir])
            .with_context(|| format!("opening spec directory {}", dir.display()))?;
        compiler.include_source_info(true).include_imports(true);
        compiler
            .open_files(&relative)
            .map_err(|e| anyhow!("compiling {}: {e}", dir.display()))?;
        let fds = compiler.file_descriptor_set();
        let mut spec = Spec::from_fds(fds)?;
        spec.files = files;
        Ok(spec)
    }

    fn from_fds(fds: FileDescriptorSet) -> Result<Spec> {
        let mut messages = Vec::new();
        let mut enums = Vec::new();
        let mut services = Vec::new();
        for file in &fds.file {
            let package = file.package().to_string();
            check_package(file.name(), &package)?;
            for e in &file.enum_type {
                let prefix = format!("{}_", screaming_snake(e.name()));
                let variants = e
                    .value
                    .iter()
                    .map(|v| {
                        let short = v.name().strip_prefix(&prefix).unwrap_or(v.name());
                        (camel_case(short), v.number())
                    })
                    .collect();
                enums.push(Enum {
                    name: e.name().to_string(),
                    package: package.clone(),
                    variants,
                });
            }
            for m in &file.message_type {
                messages.push(read_message(file.name(), &package, m)?);
            }
            for (si, s) in file.service.iter().enumerate() {
                let mut methods = Vec::new();
                for (mi, m) in s.method.iter().enumerate() {
                    let comment = leading_comment(file, &[6, si as i32, 2, mi as i32]);
                    let what = format!("{}.{}", s.name(), m.name());
                    if m.client_streaming() {
                        bail!("{what}: client-streaming rpcs are not supported");
                    }
                    if let Some(method) = read_method(&what, m, &comment)? {
                        methods.push(method);
                    }
                }
                services.push(Service {
                    name: s.name().to_string(),
                    package: package.clone(),
                    methods,
                });
            }
        }
        let spec = Spec {
            messages,
            enums,
            services,
            fds,
            files: Vec::new(),
        };
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<()> {
        // Each dotted package is re-exported under its short module name at
        // the crate root, beside the root modules prost nests packages in.
        let packages = self.packages();
        let roots: BTreeSet<&str> = packages
            .iter()
            .filter_map(|p| p.split('.').next())
            .collect();
        let mut shorts = BTreeSet::new();
        for p in &packages {
            let short = short_module(p);
            if !shorts.insert(short) {
                bail!("package {p}: another package also has the short module name {short}");
            }
            if short != rust_module(p) && roots.contains(short) {
                bail!("package {p}: its short module name {short} is also a package's first component");
            }
        }
        let mut names = BTreeSet::new();
        for n in self
            .messages
            .iter()
            .map(|m| &m.name)
            .chain(self.enums.iter().map(|e| &e.name))
        {
            if !names.insert(n.clone()) {
                bail!("type name {n} is defined twice; names must be unique across packages");
            }
        }
        let mut rpc_names = BTreeSet::new();
        for s in &self.services {
            for m in &s.methods {
                let mut names = vec![m.rpc_name.clone()];
                if m.streaming {
                    let (notif, unsub) = m.subscription_names();
                    names.extend([notif, unsub]);
                }
                for name in names {
                    if !rpc_names.insert(name.clone()) {
                        bail!("JSON-RPC name {name} is used twice");
                    }
                }
                for ty in [&m.input, &m.output] {
                    self.message(ty)?;
                }
            }
        }
        for m in &self.messages {
            for f in &m.fields {
                if let FieldType::Message(inner) = &f.ty {
                    if self.message(inner)?.fields.is_empty() {
                        bail!(
                            "{}.{}: an empty message cannot be a field (C++ has no empty structs)",
                            m.name,
                            f.name
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Every package that defines a message, enum or service, sorted.
    pub fn packages(&self) -> BTreeSet<&str> {
        self.messages
            .iter()
            .map(|m| &m.package)
            .chain(self.enums.iter().map(|e| &e.package))
            .chain(self.services.iter().map(|s| &s.package))
            .map(String::as_str)
            .collect()
    }

    /// Looks a message up by name.
    pub fn message(&self, name: &str) -> Result<&Message> {
        self.messages
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| anyhow!("unknown message {name}"))
    }

    /// Every method of every service.
    pub fn methods(&self) -> impl Iterator<Item = (&Service, &Method)> {
        self.services
            .iter()
            .flat_map(|s| s.methods.iter().map(move |m| (s, m)))
    }
}

/// `metachain.types.v1` -> `metachain::types::v1`: the module prost nests a
/// package's types in.
pub fn rust_module(package: &str) -> String {
    package.replace('.', "::")
}

/// The crate-root module a package's types are also reachable through: its
/// last component that is not a version (`metachain.types.v1` -> `types`),
/// or the package itself when it is one identifier.
pub fn short_module(package: &str) -> &str {
    let mut parts = package.rsplit('.');
    let last = parts.next().unwrap_or(package);
    match parts.next() {
        Some(before) if is_version(last) => before,
        _ => last,
    }
}

/// `v1`, `v2`, `v1beta1`, `v2alpha`: a buf-style package version.
fn is_version(part: &str) -> bool {
    let Some(rest) = part.strip_prefix('v') else {
        return false;
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let suffix = &rest[digits..];
    let stage = suffix
        .strip_prefix("alpha")
        .or_else(|| suffix.strip_prefix("beta"))
        .unwrap_or(suffix);
    digits > 0 && (suffix.is_empty() || stage.chars().all(|c| c.is_ascii_digit()))
}

/// A package is one or more dot-separated lowercase identifiers, each a
/// valid Rust module name, e.g. `metachain.types.v1`.
fn check_package(file: &str, package: &str) -> Result<()> {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final",
        "gen", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
    ];
    let plain = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_lowercase())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !KEYWORDS.contains(&part)
    };
    if package.is_empty() || !package.split('.').all(plain) {
        bail!(
            "{file}: package must be dot-separated lowercase identifiers that are not Rust \
             keywords (e.g. metachain.types.v1), got {package:?}"
        );
    }
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn leading_comment(file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
    file.source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .map(|l| l.leading_comments().to_string())
        .unwrap_or_default()
}

fn type_name(full: &str) -> String {
    full.rsplit('.').next().unwrap_or(full).to_string()
}

fn read_message(file: &str, package: &str, m: &prost_types::DescriptorProto) -> Result<Message> {
    let what = format!("{file}: message {}", m.name());
    if !m.nested_type.is_empty() || !m.enum_type.is_empty() {
        bail!("{what}: nested types and maps are not supported; declare them at top level");
    }
    let mut fields = Vec::new();
    for f in &m.field {
        if f.oneof_index.is_some() {
            bail!(
                "{what}: field {} is in a oneof or optional, which C++ structs cannot carry",
                f.name()
            );
        }
        let repeated = f.label() == Label::Repeated;
        let ty = match f.r#type() {
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => FieldType::I64,
            Type::Uint64 | Type::Fixed64 => FieldType::U64,
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => FieldType::I32,
            Type::Uint32 | Type::Fixed32 => FieldType::U32,
            Type::Double => FieldType::F64,
            Type::Bool => FieldType::Bool,
            Type::String => FieldType::String,
            Type::Bytes if repeated => {
                bail!(
                    "{what}: field {} is repeated bytes, which cxx cannot carry",
                    f.name()
                )
            }
            Type::Bytes => FieldType::Bytes,
            Type::Message => FieldType::Message(type_name(f.type_name())),
            Type::Enum => FieldType::Enum(type_name(f.type_name())),
            other => bail!("{what}: field {} has unsupported type {other:?}", f.name()),
        };
        fields.push(Field {
            name: f.name().to_string(),
            ty,
            repeated,
        });
    }
    Ok(Message {
        name: m.name().to_string(),
        package: package.to_string(),
        fields,
    })
}

fn read_method(
    what: &str,
    m: &prost_types::MethodDescriptorProto,
    comment: &str,
) -> Result<Option<Method>> {
    let mut rpc_name = None;
    let (mut client_only, mut server_only, mut ignore, mut auth, mut inline) =
        (false, false, false, false, false);
    let mut doc = Vec::new();
    for line in comment.lines() {
        let mut rest = line.trim();
        let mut plain = String::new();
        while let Some(start) = rest.find('[') {
            let end = rest[start..]
                .find(']')
                .map(|e| start + e)
                .ok_or_else(|| anyhow!("{what}: unclosed '[' in comment {line:?}"))?;
            plain.push_str(&rest[..start]);
            let tag = rest[start + 1..end].trim();
            match tag {
                "client" => client_only = true,
                "server" => server_only = true,
                "ignore" => ignore = true,
                "auth" => auth = true,
                "inline" => inline = true,
                _ => match tag.strip_prefix("rpc:") {
                    Some(name) if !name.trim().is_empty() => {
                        rpc_name = Some(name.trim().to_string())
                    }
                    _ => bail!("{what}: unknown annotation [{tag}]"),
                },
            }
            rest = &rest[end + 1..];
        }
        plain.push_str(rest);
        if !plain.trim().is_empty() {
            doc.push(plain.trim().to_string());
        }
    }
    if ignore {
        return Ok(None);
    }
    if client_only && server_only {
        bail!("{what}: [client] and [server] exclude each other");
    }
    let rpc_name = rpc_name.ok_or_else(|| anyhow!("{what}: missing [rpc: name] annotation"))?;
    let streaming = m.server_streaming();
    if streaming && inline {
        bail!("{what}: a streaming rpc cannot be [inline]");
    }
    if streaming && !rpc_name.contains("Subscribe") {
        bail!("{what}: a streaming rpc's JSON-RPC name must contain \"Subscribe\" (e.g. metaSubscribe_x)");
    }
    Ok(Some(Method {
        name: m.name().to_string(),
        rpc_name,
        input: type_name(m.input_type()),
        output: type_name(m.output_type()),
        server: !client_only,
        client: !server_only,
        auth,
        inline,
        streaming,
        doc: doc.join("\n"),
    }))
}

/// `MetaMintBlock` -> `meta_mint_block`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `TxKind` -> `TX_KIND`.
fn screaming_snake(s: &str) -> String {
    snake_case(s).to_ascii_uppercase()
}

/// `DEPOSIT_ALL` -> `DepositAll`.
fn camel_case(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lower = p.to_ascii_lowercase();
            let mut c = lower.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
