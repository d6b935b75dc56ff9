/**
 * Types for the parts of smpp 0.5.1 this project uses (the package ships none).
 * Decoded PDUs are open records: the library sets one property per mandatory parameter and TLV,
 * and malformed input can leave any of them missing, so readers must check before use.
 */
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  /** short_message / message_payload after the library's decode filter. */
  export interface DecodedMessage {
    message: string | Buffer;
    udh?: Buffer[];
  }

  /** Values accepted for short_message when encoding: raw bytes, text, or text with a UDH. */
  export type ShortMessageInput = Buffer | string | { message: string | Buffer; udh?: Buffer };

  export type PduParams = Record<string, unknown>;

  export class PDU {
    constructor(command: string, options?: PduParams);
    /** Decodes one complete PDU (throws on some malformed bodies). */
    constructor(buffer: Buffer);
    static fromBuffer(buffer: Buffer): PDU | false;
    static maxLength: number;

    command: string;
    command_id: number;
    command_length: number;
    command_status: number;
    sequence_number: number;
    /** Mandatory parameters and TLVs, by their SMPP names. */
    [field: string]: unknown;

    isResponse(): boolean;
    response(options?: PduParams): PDU;
    toBuffer(): Buffer;
  }

  export interface SessionOptions {
    host?: string;
    port?: number;
    socket?: Socket;
    auto_enquire_link_period?: number;
  }

  export class Session extends EventEmitter {
    constructor(options: SessionOptions);
    socket: Socket;
    sequence: number;
    /** Sends a PDU; for requests, responseCallback receives the matching response. False when the socket is not writable. */
    send(pdu: PDU, responseCallback?: (response: PDU) => void, sendCallback?: (sent: PDU) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
  }

  export class Server extends NetServer {
    sessions: Session[];
  }

  export interface Encoding {
    match(value: string): boolean;
    encode(value: string): Buffer;
    decode(value: Buffer): string;
  }

  interface SmppModule {
    PDU: typeof PDU;
    Session: typeof Session;
    Server: typeof Server;
    createServer(listener?: (session: Session) => void): Server;
    createServer(options: Record<string, unknown>, listener?: (session: Session) => void): Server;
    connect(options: SessionOptions, listener?: () => void): Session;
    connect(url: string, listener?: () => void): Session;
    /** Status names → numbers (ESME_ROK, ESME_RINVPASWD, …). */
    errors: Record<string, number>;
    consts: {
      REGISTERED_DELIVERY: Record<string, number>;
      ESM_CLASS: Record<string, number>;
      MESSAGE_STATE: Record<string, number>;
      TON: Record<string, number>;
      NPI: Record<string, number>;
      ENCODING: Record<string, number>;
    };
    encodings: Record<string, Encoding>;
    commands: Record<string, { id: number; command: string; params?: Record<string, unknown> }>;
    commandsById: Record<number, { id: number; command: string }>;
    /** The library also copies every status name to the top level (smpp.ESME_ROK). */
    [name: string]: unknown;
  }

  const smpp: SmppModule;
  export default smpp;
}
