// The part of seek-bzip (a bz2 decoder in plain JavaScript, no types of its own) that the check-in uses.
declare module "seek-bzip" {
  interface OutputStream {
    writeByte(byte: number): void
    flush(): void
  }
  const Bunzip: {
    /** Decodes a whole bz2 buffer into `output` (a stream, or a new buffer when none is given). */
    decode(input: Buffer, output?: OutputStream, multistream?: boolean): Buffer | undefined
  }
  export default Bunzip
}
