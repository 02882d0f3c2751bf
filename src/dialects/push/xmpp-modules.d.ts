// The parts of xmpp.js (@xmpp/client 0.14, @xmpp/component 0.13; neither ships types) the push dialect uses.

declare module '@xmpp/xml' {
  /** an ltx element: what xmpp.js parses stanzas into and serializes with toString() */
  export class Element {
    name: string
    attrs: Record<string, string | undefined>
    children: (Element | string)[]
    parent: Element | null
    is(name: string, xmlns?: string): boolean
    getChild(name: string, xmlns?: string): Element | undefined
    getChildren(name: string, xmlns?: string): Element[]
    getChildElements(): Element[]
    getChildText(name: string, xmlns?: string): string | null
    getText(): string
    getNS(): string | undefined
    append(...children: (Element | string)[]): this
    toString(): string
  }
  export type XmlChild = Element | string | undefined | null | false
  /** a streaming parser: 'start' for the root, 'element' for each child of it, 'error' */
  export interface Parser {
    on(event: 'start' | 'element' | 'end', fn: (el: Element) => void): this
    on(event: 'error', fn: (err: Error) => void): this
    write(data: string): void
  }
  export interface Xml {
    (name: string, attrs?: Record<string, string | number | undefined> | null, ...children: (XmlChild | XmlChild[])[]): Element
    Element: typeof Element
    Parser: new () => Parser
  }
}

declare module '@xmpp/client' {
  import type { Element, Xml } from '@xmpp/xml'
  import type { EventEmitter } from 'node:events'

  export const xml: Xml
  export type { Element }

  export interface IqCaller {
    /** sends an IQ get/set (an id is added) and resolves with the result IQ; rejects with a StanzaError on an error IQ */
    request(iq: Element, timeout?: number): Promise<Element>
  }

  export interface Reconnect extends EventEmitter {
    /** ms before the next attempt after a disconnect */
    delay: number
    stop(): void
  }

  export interface ClientOptions {
    service: string
    domain?: string
    resource?: string
    username?: string
    password?: string
    timeout?: number
  }

  export interface Client extends EventEmitter {
    status: string
    jid: { toString(): string; bare(): { toString(): string } } | null
    socket: (EventEmitter & { secure?: boolean }) | null
    options: ClientOptions
    iqCaller: IqCaller
    reconnect: Reconnect
    start(): Promise<unknown>
    stop(): Promise<void>
    disconnect(): Promise<void>
    send(el: Element): Promise<void>
    sendReceive(el: Element, timeout?: number): Promise<Element>
    restart(): Promise<void>
    /** @internal: the socket under the stream (STARTTLS replaces it) */
    _attachSocket(socket: unknown): void
  }

  export function client(options: ClientOptions): Client
}

declare module '@xmpp/tls/lib/Socket.js' {
  import type { EventEmitter } from 'node:events'
  import type tls from 'node:tls'
  /** the socket wrapper xmpp.js streams over TLS on ("connect" once the handshake is done) */
  export default class Socket extends EventEmitter {
    secure: true
    socket: tls.TLSSocket | null
    connect(options: tls.ConnectionOptions): void
  }
}

declare module '@xmpp/component' {
  import type { Element, Xml } from '@xmpp/xml'
  import type { EventEmitter } from 'node:events'

  export const xml: Xml

  export interface IqContext {
    stanza: Element
    /** the IQ's one child */
    element: Element
    from: { toString(): string } | null
    to: { toString(): string } | null
  }
  /** an Element to put in the result, an `<error/>` element to answer an error, any other truthy value: an empty result */
  export type IqHandler = (ctx: IqContext) => Promise<unknown> | unknown

  export interface Component extends EventEmitter {
    status: string
    reconnect: { delay: number; stop(): void } & EventEmitter
    iqCallee: { get(ns: string, name: string, h: IqHandler): void; set(ns: string, name: string, h: IqHandler): void }
    start(): Promise<unknown>
    stop(): Promise<void>
    disconnect(): Promise<void>
    send(el: Element): Promise<void>
  }

  export function component(options: { service: string; domain: string; password: string }): Component
}
