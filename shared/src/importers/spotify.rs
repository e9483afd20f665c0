//! Spotify account data: `YourLibrary.json`, `StreamingHistory_music_N.json` and the extended
//! `Streaming_History_Audio_*.json`. Listening histories become artists weighted by plays;
//! the library's saved tracks, albums and artists become favourites of those kinds.
use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_records::{decode, records, with_lines};
use super::{Collector, RowFavourite, parse_datetime_ms};
use crate::{Error, ExternalId, ItemKind, LIKE_ENTHUSIASM, Result, WeightPolicy};

/// Spotify counts a play from 30 seconds.
const MIN_PLAY_MS: u64 = 30_000;

#[derive(Deserialize)]
struct Library<'a> {
    #[serde(default, borrow)]
    tracks: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    albums: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    artists: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    shows: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    episodes: Vec<&'a RawValue>,
    #[serde(default, borrow, rename = "bannedTracks")]
    banned_tracks: Vec<&'a RawValue>,
    #[serde(default, borrow, rename = "bannedArtists")]
    banned_artists: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SavedTrack {
    artist: Option<String>,
    album: Option<String>,
    track: Option<String>,
    uri: Option<String>,
}

#[derive(Deserialize)]
struct SavedArtist {
    name: Option<String>,
    uri: Option<String>,
}

pub(super) fn import_library(text: &str, out: &mut Collector) -> Result<()> {
    let library: Library<'_> = serde_json::from_str(text).map_err(|e| Error::ImportStructure {
        line: e.line(),
        reason: format!("not a YourLibrary.json object: {e}"),
    })?;
    let policy = WeightPolicy::default();
    let saved = |kind: ItemKind, title: String, creator: Option<String>, uri: Option<String>| {
        RowFavourite {
            kind,
            title,
            year: None,
            creator,
            external_id: uri.as_deref().and_then(ExternalId::spotify),
            enthusiasm: LIKE_ENTHUSIASM,
            event_ms: None,
        }
    };
    for (line, raw) in with_lines(text, library.tracks) {
        match decode::<SavedTrack>(raw) {
            Ok(SavedTrack {
                track: Some(track),
                artist,
                uri,
                ..
            }) => {
                out.accept(line, saved(ItemKind::Track, track, artist, uri), &policy);
            }
            Ok(_) => out.skip(line, "a saved track without a track name"),
            Err(reason) => out.skip(line, reason),
        }
    }
    for (line, raw) in with_lines(text, library.albums) {
        match decode::<SavedTrack>(raw) {
            Ok(SavedTrack {
                album: Some(album),
                artist,
                uri,
                ..
            }) => {
                out.accept(line, saved(ItemKind::Album, album, artist, uri), &policy);
            }
            Ok(_) => out.skip(line, "a saved album without an album name"),
            Err(reason) => out.skip(line, reason),
        }
    }
    for (line, raw) in with_lines(text, library.artists) {
        match decode::<SavedArtist>(raw) {
            Ok(SavedArtist {
                name: Some(name),
                uri,
            }) => {
                out.accept(line, saved(ItemKind::Artist, name, None, uri), &policy);
            }
            Ok(_) => out.skip(line, "a followed artist without a name"),
            Err(reason) => out.skip(line, reason),
        }
    }
    for (line, _) in with_lines(text, library.shows)
        .into_iter()
        .chain(with_lines(text, library.episodes))
    {
        out.skip(line, "podcasts are not imported");
    }
    for (line, _) in with_lines(text, library.banned_tracks)
        .into_iter()
        .chain(with_lines(text, library.banned_artists))
    {
        out.skip(line, "banned by you: not a favourite");
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stream {
    end_time: Option<String>,
    artist_name: Option<String>,
    track_name: Option<String>,
    ms_played: Option<u64>,
}

pub(super) fn import_history(text: &str, policy: &WeightPolicy, out: &mut Collector) -> Result<()> {
    for (line, raw) in records(text, false)? {
        let stream = match decode::<Stream>(raw) {
            Ok(stream) => stream,
            Err(reason) => {
                out.skip(line, reason);
                continue;
            }
        };
        let artist = stream
            .artist_name
            .filter(|a| !a.trim().is_empty() && a != "Unknown Artist");
        match (artist, stream.track_name, stream.ms_played) {
            (_, _, Some(ms)) if ms < MIN_PLAY_MS => out.skip(line, "played for under 30 s"),
            (Some(artist), Some(_), Some(_)) => out.listen(
                line,
                artist_row(artist, None, stream.end_time.as_deref()),
                policy,
            ),
            (None, _, _) => out.skip(line, "no artist (a podcast or an unknown track)"),
            (Some(_), _, _) => out.skip(line, "missing trackName or msPlayed"),
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct ExtendedStream {
    ts: Option<String>,
    ms_played: Option<u64>,
    master_metadata_track_name: Option<String>,
    master_metadata_album_artist_name: Option<String>,
}

pub(super) fn import_extended_history(
    text: &str,
    policy: &WeightPolicy,
    out: &mut Collector,
) -> Result<()> {
    for (line, raw) in records(text, false)? {
        let stream = match decode::<ExtendedStream>(raw) {
            Ok(stream) => stream,
            Err(reason) => {
                out.skip(line, reason);
                continue;
            }
        };
        let artist = stream
            .master_metadata_album_artist_name
            .filter(|a| !a.trim().is_empty());
        match (artist, stream.master_metadata_track_name, stream.ms_played) {
            (_, _, Some(ms)) if ms < MIN_PLAY_MS => out.skip(line, "played for under 30 s"),
            (Some(artist), Some(_), Some(_)) => {
                out.listen(line, artist_row(artist, None, stream.ts.as_deref()), policy)
            }
            (None, _, _) | (_, None, _) => out.skip(
                line,
                "no track: a podcast episode, audiobook or unknown track",
            ),
            (Some(_), Some(_), None) => out.skip(line, "missing ms_played"),
        }
    }
    Ok(())
}

pub(super) fn artist_row(artist: String, mbid: Option<&str>, when: Option<&str>) -> RowFavourite {
    RowFavourite {
        kind: ItemKind::Artist,
        title: artist,
        year: None,
        creator: None,
        external_id: mbid.and_then(ExternalId::mbid),
        enthusiasm: 1.0,
        event_ms: when.and_then(parse_datetime_ms),
    }
}
