/** Names and markers EventStoreDB gives meaning to: `$all`, metastreams, links, deletion. */

/** long.MaxValue: the tombstone's revision and the soft-delete `$tb` marker. */
export const DELETED_STREAM = 9223372036854775807n;
export const ALL_STREAM = '$all';
export const LINK_EVENT_TYPE = '$>';
export const METADATA_EVENT_TYPE = '$metadata';
export const STREAM_DELETED_EVENT_TYPE = '$streamDeleted';

export const metastreamOf = (streamId: string): string => `$$${streamId}`;
export const isMetastream = (streamId: string): boolean => streamId.startsWith('$$');
export const originalStreamOf = (metastreamId: string): string => metastreamId.slice(2);
