//! Listens from ListenBrainz (export JSON or JSON lines) and Last.fm (`user.getRecentTracks`
//! JSON). Each listen counts as a play of its artist.
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Collector;
use super::json_records::{decode, records, with_lines};
use super::spotify::artist_row;
use crate::{Error, Result, WeightPolicy};

#[derive(Deserialize)]
struct Listen {
    listened_at: Option<u64>,
    track_metadata: Option<TrackMetadata>,
}

#[derive(Deserialize)]
struct TrackMetadata {
    artist_name: Option<String>,
    track_name: Option<String>,
    additional_info: Option<AdditionalInfo>,
}

#[derive(Deserialize)]
struct AdditionalInfo {
    #[serde(default)]
    artist_mbids: Vec<String>,
}

pub(super) fn import_listenbrainz(
    text: &str,
    policy: &WeightPolicy,
    out: &mut Collector,
) -> Result<()> {
    for (line, raw) in records(text, true)? {
        let listen = match decode::<Listen>(raw) {
            Ok(listen) => listen,
            Err(reason) => {
                out.skip(line, reason);
                continue;
            }
        };
        let Some(metadata) = listen.track_metadata else {
            out.skip(line, "no track_metadata");
            continue;
        };
        let Some(artist) = metadata.artist_name.filter(|a| !a.trim().is_empty()) else {
            out.skip(line, "track_metadata has no artist_name");
            continue;
        };
        if metadata
            .track_name
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
        {
            out.skip(line, "track_metadata has no track_name");
            continue;
        }
        let mbid = metadata
            .additional_info
            .and_then(|info| info.artist_mbids.into_iter().next());
        let mut row = artist_row(artist, mbid.as_deref(), None);
        row.event_ms = listen.listened_at.map(|s| s.saturating_mul(1000));
        out.listen(line, row, policy);
    }
    Ok(())
}

#[derive(Deserialize)]
struct RecentTracksPage<'a> {
    #[serde(borrow)]
    recenttracks: RecentTracks<'a>,
}

#[derive(Deserialize)]
struct RecentTracks<'a> {
    #[serde(borrow)]
    track: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Scrobble {
    artist: Option<TextWithMbid>,
    name: Option<String>,
    date: Option<ScrobbleDate>,
    #[serde(rename = "@attr")]
    attr: Option<NowPlaying>,
}

#[derive(Deserialize)]
struct TextWithMbid {
    #[serde(rename = "#text")]
    text: Option<String>,
    mbid: Option<String>,
}

#[derive(Deserialize)]
struct ScrobbleDate {
    uts: Option<String>,
}

#[derive(Deserialize)]
struct NowPlaying {
    nowplaying: Option<String>,
}

pub(super) fn import_lastfm(text: &str, policy: &WeightPolicy, out: &mut Collector) -> Result<()> {
    let page: RecentTracksPage<'_> =
        serde_json::from_str(text).map_err(|e| Error::ImportStructure {
            line: e.line(),
            reason: format!("expected {{\"recenttracks\": {{\"track\": [...]}}}}: {e}"),
        })?;
    for (line, raw) in with_lines(text, page.recenttracks.track) {
        let scrobble = match decode::<Scrobble>(raw) {
            Ok(scrobble) => scrobble,
            Err(reason) => {
                out.skip(line, reason);
                continue;
            }
        };
        if scrobble.attr.and_then(|a| a.nowplaying).as_deref() == Some("true") {
            out.skip(line, "now playing: not scrobbled yet");
            continue;
        }
        let artist = scrobble
            .artist
            .as_ref()
            .and_then(|a| a.text.clone())
            .filter(|a| !a.trim().is_empty());
        let (Some(artist), Some(_)) = (artist, scrobble.name.filter(|n| !n.trim().is_empty()))
        else {
            out.skip(line, "a scrobble without artist or track name");
            continue;
        };
        let mbid = scrobble
            .artist
            .and_then(|a| a.mbid)
            .filter(|m| !m.is_empty());
        let mut row = artist_row(artist, mbid.as_deref(), None);
        row.event_ms = scrobble
            .date
            .and_then(|d| d.uts)
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| s.saturating_mul(1000));
        out.listen(line, row, policy);
    }
    Ok(())
}
