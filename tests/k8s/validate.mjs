// Validates Kubernetes objects against the API's schemas (the kubernetes-models package,
// generated from the Kubernetes OpenAPI spec). Test-only; run through tests/k8s/validate.sh.
//
//   node validate.mjs FILE...   (FILE: multi-document YAML; "-" reads stdin)
//
// Every document must be a mapping with apiVersion, kind and metadata.name; it is validated
// as the model of that apiVersion/kind (DaemonSet, ConfigMap, Job, Namespace, ...). A kind the
// package does not know is a failure. Prints one line per object, "ok <kind>/<name>", or
// "not ok FILE#<index> <kind>/<name>: <path> <message>" per schema error (index: the
// document's 0-based position in its file), then a summary; exits 1 when any object fails,
// 2 on a usage or YAML error.
// Limitation: the schemas do not reject unknown fields (kubectl --validate=strict does).
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// apiVersion "apps/v1" -> module "kubernetes-models/apps/v1/<Kind>", "v1" -> ".../v1/<Kind>"
const API_VERSION = /^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

async function loadModel(apiVersion, kind) {
	if (typeof apiVersion !== "string" || !API_VERSION.test(apiVersion))
		return { error: `apiVersion: expected "<group>/<version>" or "v1", got ${JSON.stringify(apiVersion)}` };
	if (typeof kind !== "string" || !KIND.test(kind))
		return { error: `kind: expected a Kubernetes kind (CamelCase), got ${JSON.stringify(kind)}` };
	try {
		const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
		if (typeof mod[kind] !== "function") throw new Error("no model exported");
		return { Model: mod[kind] };
	} catch {
		return { error: `unknown kind ${kind} in ${apiVersion} (not in the Kubernetes API schemas of kubernetes-models)` };
	}
}

function fmtErrors(e) {
	const list = Array.isArray(e?.errors) ? e.errors : null;
	if (!list) return [String(e?.message ?? e)];
	return list.map((x) => {
		const path = x.instancePath || "/";
		const extra = x.params?.missingProperty ? "" : x.params?.allowedValues ? ` (${x.params.allowedValues.join(", ")})` : "";
		return `${path} ${x.message}${extra}`;
	});
}

async function main(files) {
	if (files.length === 0) {
		process.stderr.write("usage: validate.mjs FILE... (multi-document YAML; - for stdin)\n");
		return 2;
	}
	let ok = 0, bad = 0;
	for (const file of files) {
		let text;
		try {
			text = readFileSync(file === "-" ? 0 : file, "utf8");
		} catch (e) {
			process.stderr.write(`validate.mjs: ${file}: ${e.message}\n`);
			return 2;
		}
		const docs = parseAllDocuments(text, { prettyErrors: true });
		if (!Array.isArray(docs)) { // an empty stream
			process.stderr.write(`validate.mjs: ${file}: no YAML documents\n`);
			return 2;
		}
		let index = -1;
		for (const doc of docs) {
			index++;
			const where = `${file}#${index}`;
			if (doc.errors.length) {
				process.stderr.write(`validate.mjs: ${where}: ${doc.errors.map((e) => e.message).join("; ")}\n`);
				return 2;
			}
			const obj = doc.toJS();
			if (obj === null || obj === undefined) { index--; continue; } // "---" at the end
			if (typeof obj !== "object" || Array.isArray(obj)) {
				console.log(`not ok ${where}: expected a Kubernetes object (a mapping), got ${Array.isArray(obj) ? "a list" : typeof obj}`);
				bad++;
				continue;
			}
			const name = obj.metadata?.name;
			const id = `${obj.kind ?? "?"}/${name ?? "?"}`;
			const { Model, error } = await loadModel(obj.apiVersion, obj.kind);
			const errs = [];
			if (error) errs.push(error);
			else {
				try {
					new Model(obj).validate();
				} catch (e) {
					errs.push(...fmtErrors(e));
				}
			}
			if (typeof name !== "string" || name === "") errs.push("/metadata/name must be a non-empty string");
			if (errs.length) {
				for (const m of errs) console.log(`not ok ${where} ${id}: ${m}`);
				bad++;
			} else {
				console.log(`ok ${id}`);
				ok++;
			}
		}
	}
	console.log(`# ${ok} valid, ${bad} invalid`);
	if (ok + bad === 0) {
		process.stderr.write("validate.mjs: no Kubernetes objects in the input\n");
		return 2;
	}
	return bad ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
