//! Points on the Earth, distances between them, and the box that bounds a circle: what location
//! search needs without the database's geospatial operators (FerretDB 1.x has none).

use common::domain::DomainError;

/// Mean Earth radius (IUGG), in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A latitude in −90..=90 and a longitude in −180..=180, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    lat: f64,
    lon: f64,
}

/// Which half of a coordinate pair is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatesError {
    #[error("latitude {0}")]
    Latitude(DomainError),
    #[error("longitude {0}")]
    Longitude(DomainError),
}

impl Coordinates {
    /// Checks both ranges; NaN and infinities are out of range too.
    pub fn parse(lat: f64, lon: f64) -> Result<Self, CoordinatesError> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(CoordinatesError::Latitude(DomainError::OutOfRange {
                range: "-90..=90",
            }));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(CoordinatesError::Longitude(DomainError::OutOfRange {
                range: "-180..=180",
            }));
        }
        Ok(Self { lat, lon })
    }

    /// Reads `"lat,lon"`, as the `near` parameter carries it.
    pub fn parse_pair(raw: &str) -> Result<Self, String> {
        let (lat, lon) = raw
            .split_once(',')
            .ok_or_else(|| "must be `lat,lon` in degrees, e.g. `37.18,-3.60`".to_owned())?;
        let number = |s: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("`{s}` is not a number"))
        };
        Self::parse(number(lat)?, number(lon)?).map_err(|err| err.to_string())
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle distance (haversine), in kilometres.
    pub fn distance_km(self, other: Self) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

/// A search radius in kilometres: above 0 and at most [`Radius::MAX_KM`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radius(f64);

impl Radius {
    /// The widest search: beyond this a location filter stops meaning "near".
    pub const MAX_KM: f64 = 1000.0;

    pub fn parse(km: f64) -> Result<Self, DomainError> {
        if km > 0.0 && km <= Self::MAX_KM {
            Ok(Self(km))
        } else {
            Err(DomainError::OutOfRange {
                range: "more than 0 and at most 1000 km",
            })
        }
    }

    pub fn km(self) -> f64 {
        self.0
    }
}

/// Where a point lies on the unit sphere, and how far apart two points are there in a straight
/// line: distances a spatial index can compare, in the same order as great-circle distances.
impl Coordinates {
    /// The point as a unit vector (x towards 0°,0°, z towards the north pole).
    pub fn unit_vector(self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }
}

impl Radius {
    /// The straight-line distance on the unit sphere between two points this far apart along
    /// it, a hair longer so that rounding never leaves a point on the circle outside.
    pub fn chord(self) -> f64 {
        2.0 * (self.0 / EARTH_RADIUS_KM / 2.0).sin() * (1.0 + 1e-9)
    }
}

/// The great-circle distance in kilometres between two points `chord` apart in a straight
/// line on the unit sphere (what [`Coordinates::unit_vector`] gives): the same distance as
/// [`Coordinates::distance_km`], from the vectors a spatial index already holds.
pub fn great_circle_km(chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (chord / 2.0).min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> Coordinates {
        Coordinates::parse(lat, lon).unwrap()
    }

    const GRANADA: (f64, f64) = (37.1773, -3.5986);
    const MADRID: (f64, f64) = (40.4168, -3.7038);

    #[test]
    fn granada_to_madrid_is_about_360_km() {
        let d = at(GRANADA.0, GRANADA.1).distance_km(at(MADRID.0, MADRID.1));
        assert!((d - 360.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn out_of_range_coordinates_are_refused() {
        for (lat, lon) in [
            (90.1, 0.0),
            (-91.0, 0.0),
            (0.0, 180.5),
            (0.0, -181.0),
            (f64::NAN, 0.0),
        ] {
            assert!(Coordinates::parse(lat, lon).is_err(), "{lat},{lon}");
        }
        assert!(Coordinates::parse_pair("37.1").is_err());
        assert!(Coordinates::parse_pair("a,b").is_err());
        assert_eq!(
            Coordinates::parse_pair(" 37.5, -3.5").unwrap(),
            at(37.5, -3.5)
        );
    }

    #[test]
    fn radius_must_be_positive_and_sane() {
        for km in [0.0, -1.0, 1000.1, f64::NAN, f64::INFINITY] {
            assert!(Radius::parse(km).is_err(), "{km}");
        }
        assert!(Radius::parse(0.5).is_ok());
    }

    #[test]
    fn a_chord_gives_the_great_circle_distance() {
        let (granada, madrid) = (at(GRANADA.0, GRANADA.1), at(MADRID.0, MADRID.1));
        let (a, b) = (granada.unit_vector(), madrid.unit_vector());
        let chord = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt();
        assert!((great_circle_km(chord) - granada.distance_km(madrid)).abs() < 1e-6);
    }

    #[test]
    fn chords_order_points_as_great_circle_distances_do() {
        let center = at(65.0, 179.0);
        let radius = Radius::parse(500.0).unwrap();
        let chord = |p: Coordinates| {
            let (a, b) = (center.unit_vector(), p.unit_vector());
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        let mut last = 0.0;
        for km in [1.0, 50.0, 250.0, 499.0] {
            let point = destination(center, 1.0, km);
            assert!(chord(point) > last, "{km}");
            assert!(chord(point) <= radius.chord(), "{km}");
            last = chord(point);
        }
        assert!(chord(destination(center, 1.0, 501.0)) > radius.chord());
        assert!(
            chord(at(65.0, -179.0)) < Radius::parse(100.0).unwrap().chord(),
            "across 180°"
        );
    }

    /// The point `km` away from `from` along `bearing`.
    fn destination(from: Coordinates, bearing: f64, km: f64) -> Coordinates {
        let angular = km / EARTH_RADIUS_KM;
        let lat1 = from.lat.to_radians();
        let lat2 = (lat1.sin() * angular.cos() + lat1.cos() * angular.sin() * bearing.cos()).asin();
        let lon2 = from.lon.to_radians()
            + (bearing.sin() * angular.sin() * lat1.cos())
                .atan2(angular.cos() - lat1.sin() * lat2.sin());
        let lon = (lon2.to_degrees() + 540.0) % 360.0 - 180.0;
        at(lat2.to_degrees(), lon)
    }
}
