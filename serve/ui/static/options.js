// The conversion options, made from the service's own OpenAPI description of POST /v1/convert: the form has
// exactly the options the API has (names, choices, defaults, limits and help text), never a copy of them.

const SKIP = new Set(["format", "furniture"]); // the viewer asks for JSON, and shows furniture as boxes
const DEEPSEEK = new Set(["deepseek_mode", "ocr_prompt"]); // only when the DeepSeek-OCR backend is configured

function resolve(spec, schema) {
  let s = schema || {};
  for (let i = 0; i < 8; i++) {
    if (s.$ref) {
      s = { ...s.$ref.split("/").slice(1).reduce((node, key) => node?.[key], spec), description: s.description };
    } else if (s.anyOf) {
      s = { ...s.anyOf.find((alt) => alt.type !== "null"), nullable: true, description: s.description };
    } else break;
  }
  return s;
}

export class Options {
  constructor(fieldset) {
    this.fieldset = fieldset;
    this.controls = new Map(); // name -> {input, kind, fallback}
  }

  build(spec) {
    const operation = spec.paths?.["/v1/convert"]?.post;
    if (!operation) throw new Error("the service's API has no POST /v1/convert");
    for (const param of operation.parameters || []) {
      if (param.in !== "query" || SKIP.has(param.name)) continue;
      const schema = resolve(spec, param.schema);
      const fallback = param.schema?.default ?? schema.default ?? null;
      let input;
      let kind = "text";
      if (schema.enum) {
        kind = "enum";
        input = document.createElement("select");
        if (fallback === null) input.append(new Option("(default)", ""));
        for (const value of schema.enum) input.append(new Option(String(value), String(value)));
        input.value = fallback === null ? "" : String(fallback);
      } else if (schema.type === "boolean") {
        kind = "boolean";
        input = Object.assign(document.createElement("input"), { type: "checkbox", checked: Boolean(fallback) });
      } else if (schema.type === "integer" || schema.type === "number") {
        kind = "number";
        input = Object.assign(document.createElement("input"), { type: "number", value: fallback ?? "" });
        if (schema.minimum !== undefined) input.min = schema.minimum;
        if (schema.maximum !== undefined) input.max = schema.maximum;
      } else {
        input = Object.assign(document.createElement("input"), { type: "text", value: fallback ?? "" });
        if (param.name === "pages") input.placeholder = "all (e.g. 1-3,5)";
      }
      input.name = param.name;
      input.id = `opt-${param.name}`;
      const label = Object.assign(document.createElement("label"), {
        className: `field${DEEPSEEK.has(param.name) ? " deepseek" : ""}`,
        title: param.description || schema.description || "",
      });
      label.append(param.name, " ", input);
      if (DEEPSEEK.has(param.name)) label.hidden = true;
      this.fieldset.append(label);
      this.controls.set(param.name, { input, kind, fallback, label });
    }
  }

  deepseek(configured) {
    for (const name of DEEPSEEK) {
      const control = this.controls.get(name);
      if (control) control.label.hidden = !configured;
    }
  }

  // Query parameters that differ from the API's defaults (the rest are left to the service).
  values() {
    const out = {};
    for (const [name, { input, kind, fallback, label }] of this.controls) {
      if (label.hidden) continue;
      const value = kind === "boolean" ? input.checked : input.value;
      if (value === "" || value === fallback || String(value) === String(fallback)) continue;
      out[name] = value;
    }
    return out;
  }
}
