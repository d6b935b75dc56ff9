import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { redactJson, redactText } from './redact';

/**
 * The suite's reading of contracts/platform-api.yaml: finds the operation for a request and
 * checks that a response's status, media type and body are what the contract documents.
 * Independent of the platform's code: it knows only the contract file.
 */
export const CONTRACT_FILE = resolve(__dirname, '../../contracts/platform-api.yaml');
const DOCUMENT_ID = 'urn:phase2:platform-api';

export class ContractViolation extends Error {
  constructor(
    /** `POST /v1/messages (sendMessage)`, or the request line when no operation matches. */
    readonly operation: string,
    readonly status: number,
    readonly problems: string[],
    body: unknown,
  ) {
    super(
      [
        `Contract violation: ${operation} answered ${status}, which ${CONTRACT_FILE.split('/').slice(-2).join('/')} does not allow:`,
        ...problems.map((p) => `  - ${p}`),
        `Body: ${preview(body)}`,
      ].join('\n'),
    );
    this.name = 'ContractViolation';
  }
}

interface OperationSpec {
  operationId: string;
  method: string;
  template: string;
  pattern: RegExp;
  literalSegments: number;
  /** JSON pointer of the operation object inside the document. */
  pointer: string;
  /** Position in the document, so listings keep the contract's order. */
  order: number;
  responses: Record<string, unknown>;
  /** Who may call it (`x-access`), when the contract restricts it: `operator`. */
  access?: string;
  /** Whether it takes a JSON request body. */
  jsonBody: boolean;
}

type JsonObject = Record<string, unknown>;

export class ApiContract {
  private readonly ajv: Ajv2020;
  private readonly operations: OperationSpec[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: JsonObject) {
    this.ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, strictTypes: false });
    addFormats(this.ajv);
    // OpenAPI's own keywords beside JSON Schema 2020-12, and the document's top-level fields: the
    // whole document is registered so `#/components/...` references resolve, and ajv compiles
    // its root, where these must be known (ignored) keywords under strict mode.
    for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs', ...OPENAPI_FIELDS])
      this.ajv.addKeyword(keyword);
    this.ajv.addSchema({ ...document, $id: DOCUMENT_ID });
    this.operations = collectOperations(document);
  }

  static load(file = CONTRACT_FILE): ApiContract {
    return new ApiContract(parseYaml(readFileSync(file, 'utf8')) as JsonObject);
  }

  /** The operations the contract marks with `x-access: <access>`, in document order. */
  operationsWithAccess(access: string): ReadonlyArray<Readonly<OperationSpec>> {
    return this.operations.filter((op) => op.access === access).sort((a, b) => a.order - b.order);
  }

  /** The operation for a method and path (query ignored); literal segments win over templates. */
  operationFor(method: string, url: string): OperationSpec | undefined {
    const path = new URL(url, 'http://contract.invalid').pathname;
    return this.operations.find((op) => op.method === method.toUpperCase() && op.pattern.test(path));
  }

  /**
   * Throws ContractViolation unless the contract documents this status for the operation, with
   * this media type and a body matching its schema. `body` is parsed JSON, or text otherwise
   * (undefined or '' for none).
   */
  validateResponse(
    method: string,
    url: string,
    status: number,
    contentType: string | undefined,
    body: unknown,
  ): void {
    const operation = this.operationFor(method, url);
    const requestLine = `${method.toUpperCase()} ${new URL(url, 'http://contract.invalid').pathname}`;
    if (!operation)
      throw new ContractViolation(requestLine, status, ['the contract has no such operation'], body);
    const label = `${requestLine} (${operation.operationId})`;

    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in operation.responses);
    if (!key) {
      throw new ContractViolation(
        label,
        status,
        [`status ${status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`],
        body,
      );
    }
    const { value: response, pointer: responsePointer } = this.deref(
      operation.responses[key],
      `${operation.pointer}/responses/${escapeToken(key)}`,
    );
    const content = (response as JsonObject).content as JsonObject | undefined;
    const isEmpty = body === undefined || body === '';
    if (!content) {
      if (!isEmpty)
        throw new ContractViolation(
          label,
          status,
          ['the contract documents no body for this status, but one was sent'],
          body,
        );
      return;
    }
    const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!(mediaType in content)) {
      throw new ContractViolation(
        label,
        status,
        [
          `media type "${mediaType || '(none)'}" is not documented (documented: ${Object.keys(content).join(', ')})`,
        ],
        body,
      );
    }
    const media = content[mediaType] as JsonObject;
    if (!media.schema) return;
    const validate = this.validatorAt(`${responsePointer}/content/${escapeToken(mediaType)}/schema`);
    if (!validate(body))
      throw new ContractViolation(label, status, describeErrors(validate.errors ?? []), body);
  }

  /** Follows a `$ref` to a reusable component (responses), returning where it points. */
  private deref(value: unknown, pointer: string): { value: unknown; pointer: string } {
    const ref = (value as JsonObject | undefined)?.$ref;
    if (typeof ref !== 'string') return { value, pointer };
    if (!ref.startsWith('#/'))
      throw new Error(`unsupported $ref ${ref}: only local references are used in the contract`);
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (node, token) => (node as JsonObject | undefined)?.[unescapeToken(token)],
        this.document,
      );
    if (target === undefined) throw new Error(`$ref ${ref} at ${pointer} points at nothing`);
    return this.deref(target, ref.slice(1));
  }

  private validatorAt(pointer: string): ValidateFunction {
    let validate = this.validators.get(pointer);
    if (!validate) {
      const fragment = pointer.split('/').map(encodeURIComponent).join('/');
      validate = this.ajv.compile({ $ref: `${DOCUMENT_ID}#${fragment}` });
      this.validators.set(pointer, validate);
    }
    return validate;
  }
}

/** A concrete path for a template: each `{name}` replaced by `valueOf(name)`, percent-encoded. */
export function fillTemplate(template: string, valueOf: (name: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(valueOf(name)));
}

let shared: ApiContract | undefined;

/** The contract, loaded once per process. */
export function platformContract(): ApiContract {
  shared ??= ApiContract.load();
  return shared;
}

const OPENAPI_FIELDS = [
  'openapi',
  'info',
  'jsonSchemaDialect',
  'servers',
  'paths',
  'webhooks',
  'components',
  'security',
  'tags',
];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function collectOperations(document: JsonObject): OperationSpec[] {
  const operations: OperationSpec[] = [];
  for (const [template, item] of Object.entries((document.paths ?? {}) as JsonObject)) {
    for (const method of METHODS) {
      const operation = (item as JsonObject)[method] as JsonObject | undefined;
      if (!operation) continue;
      const segments = template.split('/');
      operations.push({
        operationId: String(operation.operationId ?? `${method} ${template}`),
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(
          `^${segments.map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`,
        ),
        literalSegments: segments.filter((s) => !/^\{.+\}$/.test(s)).length,
        pointer: `/paths/${escapeToken(template)}/${method}`,
        order: operations.length,
        responses: (operation.responses ?? {}) as JsonObject,
        access: typeof operation['x-access'] === 'string' ? operation['x-access'] : undefined,
        jsonBody:
          'application/json' in ((((operation.requestBody ?? {}) as JsonObject).content ?? {}) as JsonObject),
      });
    }
  }
  return operations.sort((a, b) => b.literalSegments - a.literalSegments);
}

function describeErrors(errors: ErrorObject[]): string[] {
  return errors.map((error) => {
    const where = error.instancePath === '' ? '(body)' : error.instancePath;
    const extra =
      error.keyword === 'additionalProperties'
        ? ` ("${(error.params as { additionalProperty: string }).additionalProperty}")`
        : error.keyword === 'enum'
          ? ` (${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)})`
          : error.keyword === 'const'
            ? ` (${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)})`
            : '';
    return `${where} ${error.message ?? error.keyword}${extra}`;
  });
}

function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The body as it may appear in a report: secrets (an apiKey, an smpp.password) redacted, long ones cut. */
function preview(body: unknown): string {
  const text = typeof body === 'string' ? redactText(body) : JSON.stringify(redactJson(body));
  if (text === undefined) return '(none)';
  return text.length > 2_000 ? `${text.slice(0, 2_000)}… (${text.length} chars)` : text;
}
