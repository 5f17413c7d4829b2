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

/// The latitude/longitude box around a circle: every point of the circle lies inside it, so a
/// range query on indexed coordinates finds every candidate, and the exact distance decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    /// Longitude ranges: two when the box crosses the antimeridian.
    pub lon_ranges: [(f64, f64); 2],
    pub lon_range_count: usize,
}

impl BoundingBox {
    /// The box around `center` with `radius` (after Bronshtein; widened at the poles).
    pub fn around(center: Coordinates, radius: Radius) -> Self {
        let angular = radius.km() / EARTH_RADIUS_KM;
        let lat = center.lat.to_radians();
        let (min_lat, max_lat) = (lat - angular, lat + angular);
        let pole_inside =
            max_lat >= std::f64::consts::FRAC_PI_2 || min_lat <= -std::f64::consts::FRAC_PI_2;
        let degrees = |r: f64| r.to_degrees().clamp(-90.0, 90.0);
        if pole_inside {
            return Self {
                min_lat: degrees(min_lat),
                max_lat: degrees(max_lat),
                lon_ranges: [(-180.0, 180.0); 2],
                lon_range_count: 1,
            };
        }
        let dlon = (angular.sin() / lat.cos()).asin().to_degrees();
        let (west, east) = (center.lon - dlon, center.lon + dlon);
        let (lon_ranges, lon_range_count) = if west < -180.0 {
            ([(west + 360.0, 180.0), (-180.0, east)], 2)
        } else if east > 180.0 {
            ([(west, 180.0), (-180.0, east - 360.0)], 2)
        } else {
            ([(west, east); 2], 1)
        };
        Self {
            min_lat: degrees(min_lat),
            max_lat: degrees(max_lat),
            lon_ranges,
            lon_range_count,
        }
    }

    /// The longitude ranges in use.
    pub fn lon_ranges(&self) -> &[(f64, f64)] {
        &self.lon_ranges[..self.lon_range_count]
    }

    /// Whether `point` lies inside.
    pub fn contains(&self, point: Coordinates) -> bool {
        (self.min_lat..=self.max_lat).contains(&point.lat)
            && self
                .lon_ranges()
                .iter()
                .any(|(west, east)| (*west..=*east).contains(&point.lon))
    }
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
    fn the_box_holds_every_point_of_the_circle() {
        for center in [
            at(37.0, -3.0),
            at(65.0, 179.0),
            at(-40.0, -179.5),
            at(89.0, 10.0),
        ] {
            let radius = Radius::parse(500.0).unwrap();
            let bbox = BoundingBox::around(center, radius);
            for step in 0..360 {
                let bearing = f64::from(step).to_radians();
                let point = destination(center, bearing, radius.km() * 0.999);
                assert!(bbox.contains(point), "{center:?} {point:?} {bbox:?}");
            }
        }
    }

    #[test]
    fn a_box_across_the_antimeridian_has_two_longitude_ranges() {
        let bbox = BoundingBox::around(at(0.0, 179.9), Radius::parse(100.0).unwrap());
        assert_eq!(bbox.lon_ranges().len(), 2);
        assert!(bbox.contains(at(0.0, -179.9)));
        assert!(!bbox.contains(at(0.0, 0.0)));
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
