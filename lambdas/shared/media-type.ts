/**
 * What a file's first bytes say it is: the MIME type `file-type` recognizes, and the
 * VideoGen file type it maps to. Prepare sniffs a source with it before anything is
 * created; the VideoGen simulator infers an uploaded file's type with it, as VideoGen
 * does "after upload processing completes". One module, so both read bytes alike.
 */
import { fileTypeFromBuffer } from 'file-type';
import type { FileType } from './videogen/contract.ts';

/** How many leading bytes identify a format (what `file-type` reads at most). */
export const SNIFF_BYTES = 4100;

/** The VideoGen type of a MIME type, or undefined when it is not image, video or audio. */
export function fileTypeOfMime(mime: string | undefined): FileType | undefined {
  const major = mime?.split('/')[0];
  return major === 'image' ? 'IMAGE' : major === 'video' ? 'VIDEO' : major === 'audio' ? 'AUDIO' : undefined;
}

/** The MIME type the leading bytes show, if `file-type` knows the format. */
export async function sniffMime(bytes: Uint8Array): Promise<string | undefined> {
  return (await fileTypeFromBuffer(bytes))?.mime;
}
